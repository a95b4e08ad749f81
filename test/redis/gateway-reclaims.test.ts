import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { queueKeys } from '../../src/redis/keys.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from './fixture.ts';
import {
  type Child,
  type GatewayProcess,
  processEnv,
  startGatewayProcess,
  startWorkerProcess,
} from './processes.ts';

// Invariant 8 of docs/protocol.md with no other worker alive: the gateway that accepted the
// turn (RUN_WORKER=false) ends it.

let emulator: Emulator;
let admin: Redis;
let prefix: string;
let env: Record<string, string>;
let gateway: GatewayProcess;
const workers: Child[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
  env = processEnv(emulator, REDIS_URL, prefix);
  const [g, w] = await Promise.all([
    startGatewayProcess('gateway', env),
    startWorkerProcess('worker-1', env, REDIS_URL),
  ]);
  gateway = g;
  workers.push(w);
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway, ...workers].map((c) => c?.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

describe('the only worker killed mid-turn', () => {
  it('has its turn ended by the gateway with worker_lost within 30 s; a new worker runs the next turn', async () => {
    onTestFailed(() => {
      for (const child of [gateway, ...workers]) console.error(child.log());
    });
    const client = await TestClient.connect(gateway.wsUrl);
    const conversationId = client.ready.conversationId;
    emulator.enqueue({
      blocks: [{ text: 'Partial answer that never' }],
      chunkChars: 5,
      hangAfterEvents: 5,
    });
    const turn = client.chat('will you finish?', {}, 40_000);
    await emulator.waitForRequests(1);
    await client.next((f) => f.type === 'token');
    await workers[0]!.kill();
    const killedAt = Date.now();

    const frames = await turn;
    const elapsed = Date.now() - killedAt;
    const { end, text } = checkTurn(frames);
    expect(elapsed).toBeLessThan(30_000);
    expect(end.stopReason).toBe('error');
    expect(text.length).toBeGreaterThan(0);
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      code: 'worker_lost',
      retryable: true,
    });
    const history = (await fetch(`${gateway.url}/v1/conversations/${conversationId}/messages`).then(
      (r) => r.json(),
    )) as { messages: { role: string; content: string }[] };
    expect(history.messages).toEqual([
      expect.objectContaining({ role: 'user', content: 'will you finish?' }),
    ]);

    workers.push(await startWorkerProcess('worker-2', env, REDIS_URL));
    emulator.reset();
    emulator.enqueue({ blocks: [{ text: 'Back again.' }] });
    const next = checkTurn(await client.chat('and now?', {}, 20_000));
    expect(next.end.stopReason).toBe('end_turn');
    expect(next.text).toBe('Back again.');
    await client.close();
    expect(await admin.xlen(queueKeys(prefix).dead)).toBe(0);
  }, 90_000);
});
