import type { BaseMessage } from '@langchain/core/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentCatalog } from '../src/agents/catalog.ts';
import { createModels, createTurns, createWorker } from '../src/app.ts';
import { createBackends } from '../src/backends.ts';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/logger.ts';
import type { TurnFrame } from '../src/protocol/frames.ts';
import { type Emulator, startEmulator } from './emulator/index.ts';
import { captureLogs } from './helpers/env.ts';
import { testEnv } from './helpers/gateway.ts';
import { adminRedis, deletePrefix, eventually, REDIS_URL, testPrefix } from './redis/fixture.ts';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

describe.each([
  { state: 'in memory', env: {} as Record<string, string> },
  { state: 'in Redis', env: { REDIS_URL, REDIS_KEY_PREFIX: testPrefix() } },
])('closing the backends $state', ({ env }) => {
  afterAll(async () => {
    if (!env.REDIS_KEY_PREFIX) return;
    const redis = adminRedis();
    await deletePrefix(redis, env.REDIS_KEY_PREFIX);
    redis.disconnect();
  });

  it('lets a running turn end and be committed before the bus and the store close', async () => {
    emulator.reset();
    const { lines, sink } = captureLogs();
    const config = loadConfig(testEnv(emulator, { ...env, LOG_LEVEL: 'warn' }));
    const log = createLogger(config, sink);
    const backends = await createBackends(config, log);
    const { clients, models } = createModels(config, log);
    const turns = createTurns(backends, models, log);
    const agents = await AgentCatalog.load(undefined, models);
    const { worker, sources } = await createWorker(config, log, {
      queue: backends.queue,
      approvals: backends.approvals,
      turns,
      models,
      agents,
    });
    await worker.start();

    const conversationId = `c_close_${Date.now()}`;
    const turnId = `t_close_${Date.now()}`;
    const now = new Date().toISOString();
    const model = models.default.id;
    await backends.store.create({
      id: conversationId,
      owner: 'anonymous',
      model,
      title: 'closing',
      createdAt: now,
      updatedAt: now,
    });
    const frames: TurnFrame[] = [];
    let storedAtEnd: Promise<BaseMessage[]> | undefined;
    await backends.bus.subscribe(conversationId, ({ frame }) => {
      frames.push(frame);
      // The worker commits, then publishes turn-end: history read now holds the turn.
      if (frame.type === 'turn-end') {
        storedAtEnd = backends.store
          .messages(conversationId)
          .then((stored) => stored.map((s) => s.message));
      }
    });
    const started = await backends.bus.startTurn(conversationId, turnId, {
      type: 'turn-start',
      model,
      agent: 'default',
      userMessage: { content: 'answer while we close' },
    });
    expect(started).toBeDefined();
    emulator.enqueue({
      blocks: [{ text: 'answered during the drain' }],
      chunkChars: 2,
      delayMs: 5,
    });
    await backends.queue.enqueue({
      turnId,
      conversationId,
      userId: 'anonymous',
      content: 'answer while we close',
      model,
      agent: 'default',
      acceptedAt: now,
    });
    await eventually(() => frames.some((f) => f.type === 'token'), 5_000, 'the first token');

    await backends.close();
    await sources.close();
    clients.destroy();

    expect(frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(frames.at(-1)).toMatchObject({
      type: 'turn-end',
      stopReason: 'end_turn',
      text: 'answered during the drain',
    });
    const stored = await storedAtEnd;
    expect(stored?.map((m) => [m.getType(), m.text])).toEqual([
      ['human', 'answer while we close'],
      ['ai', 'answered during the drain'],
    ]);
    expect(lines.join('')).toBe('');
  });
});
