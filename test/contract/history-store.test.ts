import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversationKeys } from '../../src/redis/keys.ts';
import type { ConversationMeta, HistoryStore } from '../../src/store/history-store.ts';
import { MemoryHistoryStore } from '../../src/store/memory-history-store.ts';
import { RedisHistoryStore } from '../../src/store/redis-history-store.ts';
import { adminRedis, deletePrefix, testConnections, testPrefix } from '../redis/fixture.ts';

const TTL_SECONDS = 3600;

/** A store under test, and a way to make time pass for its conversations. */
interface Harness {
  store: HistoryStore;
  /** Makes `ms` pass for the conversation's time to live. */
  age(conversationId: string, ms: number): Promise<void>;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<Harness> {
  let now = Date.now();
  const store = new MemoryHistoryStore({ ttlSeconds: TTL_SECONDS, now: () => now });
  return {
    store,
    age: async (_id, ms) => {
      now += ms;
    },
    close: () => store.close(),
  };
}

async function redisHarness(): Promise<Harness> {
  const prefix = testPrefix();
  const connections = await testConnections();
  const admin = adminRedis();
  const store = new RedisHistoryStore({
    redis: connections.command,
    ttlSeconds: TTL_SECONDS,
    prefix,
  });
  return {
    store,
    // Redis keeps time itself: shorten every key's remaining TTL instead.
    age: async (id, ms) => {
      const k = conversationKeys(prefix, id);
      for (const key of [k.meta, k.messages, k.turns]) {
        const left = await admin.pttl(key);
        if (left > 0) await admin.pexpire(key, Math.max(1, left - ms));
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    },
    close: async () => {
      await store.close();
      await connections.close();
      await deletePrefix(admin, prefix);
      admin.disconnect();
    },
  };
}

const meta = (id: string, owner = 'ada'): ConversationMeta => ({
  id,
  owner,
  model: 'm1',
  title: 'hello there',
  createdAt: '2026-11-24T10:00:00.000Z',
  updatedAt: '2026-11-24T10:00:00.000Z',
});
const at = new Date('2026-11-24T10:05:00.000Z');

describe.each([
  ['memory', memoryHarness],
  ['redis', redisHarness],
])('%s history store', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('creates a conversation once and reads its metadata back', async () => {
    expect(await h.store.create(meta('c1'))).toBe(true);
    expect(await h.store.create(meta('c1', 'bob'))).toBe(false);
    expect(await h.store.get('c1')).toEqual(meta('c1'));
    expect(await h.store.get('c2')).toBeUndefined();
  });

  it('commits a turn exactly once per turn id', async () => {
    await h.store.create(meta('c1'));
    const turn = [new HumanMessage('hi'), new AIMessage('hello')];
    expect(await h.store.commitTurn('c1', 't1', turn, at)).toBe(true);
    expect(await h.store.commitTurn('c1', 't1', turn, at)).toBe(false);
    const again = await Promise.all(
      Array.from({ length: 8 }, () => h.store.commitTurn('c1', 't2', [new HumanMessage('x')], at)),
    );
    expect(again.filter(Boolean)).toHaveLength(1);
    const stored = await h.store.messages('c1');
    expect(stored.map((m) => m.turnId)).toEqual(['t1', 't1', 't2']);
    expect(stored.map((m) => m.message.content)).toEqual(['hi', 'hello', 'x']);
    expect(stored[0]!.createdAt).toBe(at.toISOString());
    expect((await h.store.get('c1'))!.updatedAt).toBe(at.toISOString());
  });

  it('returns the last `limit` messages, oldest first', async () => {
    await h.store.create(meta('c1'));
    for (let i = 0; i < 5; i++) {
      await h.store.commitTurn(
        'c1',
        `t${i}`,
        [new HumanMessage(`q${i}`), new AIMessage(`a${i}`)],
        at,
      );
    }
    const last = await h.store.messages('c1', 3);
    expect(last.map((m) => m.message.content)).toEqual(['a3', 'q4', 'a4']);
    expect(await h.store.messages('c1')).toHaveLength(10);
    expect(await h.store.messages('nope')).toEqual([]);
  });

  it('keeps tool calls and tool results through storage', async () => {
    await h.store.create(meta('c1'));
    const call = new AIMessage({
      content: 'Let me check.',
      tool_calls: [{ id: 'tu1', name: 'calculator', args: { expression: '6*7' } }],
    });
    const result = new ToolMessage({ content: '42', tool_call_id: 'tu1', name: 'calculator' });
    await h.store.commitTurn('c1', 't1', [new HumanMessage('6*7?'), call, result], at);
    const [, ai, tool] = (await h.store.messages('c1')).map((m) => m.message);
    expect(AIMessage.isInstance(ai)).toBe(true);
    expect((ai as AIMessage).tool_calls?.[0]).toMatchObject({
      id: 'tu1',
      args: { expression: '6*7' },
    });
    expect(ToolMessage.isInstance(tool)).toBe(true);
    expect((tool as ToolMessage).tool_call_id).toBe('tu1');
  });

  it('refuses a commit to a conversation that does not exist', async () => {
    await expect(h.store.commitTurn('ghost', 't1', [new HumanMessage('x')], at)).rejects.toThrow(
      /No conversation/,
    );
  });

  it('expires a conversation its time to live after creation', async () => {
    await h.store.create(meta('c1'));
    await h.age('c1', (TTL_SECONDS - 10) * 1000);
    expect(await h.store.get('c1')).toBeDefined();
    await h.age('c1', 20_000);
    expect(await h.store.get('c1')).toBeUndefined();
  });

  it('refreshes the time to live of metadata and messages on commit', async () => {
    await h.store.create(meta('c1'));
    await h.store.commitTurn('c1', 't1', [new HumanMessage('first')], at);
    await h.age('c1', (TTL_SECONDS - 10) * 1000);
    await h.store.commitTurn('c1', 't2', [new HumanMessage('second')], at);
    await h.age('c1', (TTL_SECONDS - 10) * 1000);
    expect(await h.store.get('c1')).toBeDefined();
    expect(await h.store.messages('c1')).toHaveLength(2);
    await h.age('c1', 20_000);
    expect(await h.store.get('c1')).toBeUndefined();
    expect(await h.store.messages('c1')).toEqual([]);
  });

  it('deletes a conversation and its history', async () => {
    await h.store.create(meta('c1'));
    await h.store.commitTurn('c1', 't1', [new HumanMessage('x')], at);
    expect(await h.store.delete('c1')).toBe(true);
    expect(await h.store.delete('c1')).toBe(false);
    expect(await h.store.get('c1')).toBeUndefined();
    expect(await h.store.messages('c1')).toEqual([]);
    // The id can start again, empty.
    expect(await h.store.create(meta('c1'))).toBe(true);
    expect(await h.store.commitTurn('c1', 't1', [new HumanMessage('y')], at)).toBe(true);
  });
});
