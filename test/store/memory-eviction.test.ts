import { HumanMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import { MemoryFrameBus } from '../../src/bus/memory-frame-bus.ts';
import { ZERO_USAGE } from '../../src/protocol/frames.ts';
import { MemoryHistoryStore } from '../../src/store/memory-history-store.ts';

const meta = (id: string) => ({
  id,
  owner: 'u',
  model: 'm',
  title: 't',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});
const start = {
  type: 'turn-start' as const,
  model: 'm',
  agent: 'default',
  userMessage: { content: 'hi' },
};
const end = {
  type: 'turn-end' as const,
  stopReason: 'end_turn' as const,
  text: '',
  usage: { ...ZERO_USAGE },
  durationMs: 0,
  model: 'm',
};

describe('memory state eviction', () => {
  it('forgets conversations whose time to live ran out, and keeps the others', async () => {
    let now = 1_000_000;
    const store = new MemoryHistoryStore({ ttlSeconds: 60, now: () => now });
    await store.create(meta('old'));
    now += 30_000;
    await store.create(meta('young'));
    await store.commitTurn('old', 't1', [new HumanMessage('x')], new Date(now));
    now += 59_000;
    store.sweep();
    expect(await store.get('old')).toBeDefined();
    now += 31_000;
    store.sweep();
    expect(await store.get('young')).toBeUndefined();
    expect(await store.get('old')).toBeUndefined();
    await store.close();
  });

  it('forgets idle frames, but not those of a watched or running conversation', async () => {
    const bus = new MemoryFrameBus({ idleTtlMs: 1_000 });
    await bus.startTurn('idle', 't1', start);
    await bus.publish('idle', 't1', end);
    await bus.startTurn('running', 't2', start);
    await bus.startTurn('watched', 't3', start);
    await bus.publish('watched', 't3', end);
    const unsubscribe = await bus.subscribe('watched', () => {});
    bus.sweep(Date.now() + 2_000);
    expect((await bus.replay('idle', 0)).state.lastSeq).toBe(0);
    expect((await bus.replay('running', 0)).state).toMatchObject({
      lastSeq: 1,
      runningTurnId: 't2',
    });
    expect((await bus.replay('watched', 0)).frames).toHaveLength(2);
    unsubscribe();
    await bus.close();
  });
});
