import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { conversationKeys } from '../../src/redis/keys.ts';
import type {
  ConversationMeta,
  HistoryStore,
  ListPosition,
} from '../../src/store/history-store.ts';
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
const usage = {
  inputTokens: 77,
  outputTokens: 20,
  totalTokens: 97,
  cacheReadInputTokens: 0,
  cacheWriteInputTokens: 0,
};
/** `ms` milliseconds after `at`. */
const base = Date.now();
const later = (ms: number) => new Date(base + ms);

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

  it("keeps a turn's usage on its last assistant message, and its stop reason", async () => {
    await h.store.create(meta('c1'));
    const call = new AIMessage({
      content: 'Let me check.',
      tool_calls: [{ id: 'tu1', name: 'calculator', args: { expression: '6*7' } }],
    });
    const result = new ToolMessage({ content: '42', tool_call_id: 'tu1', name: 'calculator' });
    const withCost = { ...usage, cacheReadInputTokens: 5, costUsd: 0.0012 };
    await h.store.commitTurn(
      'c1',
      't1',
      [new HumanMessage('6*7?'), call, result, new AIMessage('42.')],
      at,
      { stopReason: 'end_turn', usage: withCost },
    );
    // A cancelled turn whose streamed text was kept: its usage stays with that text.
    await h.store.commitTurn('c1', 't2', [new HumanMessage('more'), new AIMessage('Parti')], at, {
      stopReason: 'cancelled',
      usage,
    });
    // No assistant message: nowhere to keep usage.
    await h.store.commitTurn('c1', 't3', [new HumanMessage('fail')], at, {
      stopReason: 'error',
      usage,
    });
    const stored = await h.store.messages('c1');
    expect(stored.map((m) => [m.turnId, m.stopReason, m.usage])).toEqual([
      ['t1', undefined, undefined],
      ['t1', undefined, undefined],
      ['t1', undefined, undefined],
      ['t1', undefined, withCost],
      ['t2', 'cancelled', undefined],
      ['t2', 'cancelled', usage],
      ['t3', 'error', undefined],
    ]);
  });

  it('lists no conversation before its first turn, and one once a turn started', async () => {
    await h.store.create(meta('c1'));
    expect(await h.store.list('ada', { limit: 10 })).toEqual({ conversations: [], next: null });
    await h.store.touch('c1', later(1000));
    const { conversations, next } = await h.store.list('ada', { limit: 10 });
    expect(next).toBeNull();
    expect(conversations).toEqual([{ ...meta('c1'), updatedAt: later(1000).toISOString() }]);
    // Touching a conversation that does not exist lists nothing.
    await h.store.touch('ghost', later(2000));
    expect((await h.store.list('ada', { limit: 10 })).conversations).toHaveLength(1);
  });

  it('lists by last activity, newest first; a commit is activity, and time never goes back', async () => {
    for (const id of ['c1', 'c2', 'c3']) await h.store.create(meta(id));
    await h.store.touch('c1', later(1000));
    await h.store.touch('c2', later(2000));
    await h.store.commitTurn('c3', 't1', [new HumanMessage('x')], later(3000));
    const ids = async () =>
      (await h.store.list('ada', { limit: 10 })).conversations.map((c) => c.id);
    expect(await ids()).toEqual(['c3', 'c2', 'c1']);
    await h.store.commitTurn('c1', 't1', [new HumanMessage('x')], later(4000));
    expect(await ids()).toEqual(['c1', 'c3', 'c2']);
    // A write that lands late, with an older time, moves nothing back.
    await h.store.touch('c1', later(500));
    await h.store.commitTurn('c1', 't2', [new HumanMessage('y')], later(600));
    expect(await ids()).toEqual(['c1', 'c3', 'c2']);
    expect((await h.store.get('c1'))!.updatedAt).toBe(later(4000).toISOString());
  });

  it('pages exactly through conversations active in the same millisecond', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `c${i}`);
    for (const id of ids) {
      await h.store.create(meta(id));
      // c0..c4 tie; c5 and c6 are newer.
      await h.store.touch(id, later(id === 'c5' ? 2000 : id === 'c6' ? 3000 : 1000));
    }
    const seen: string[] = [];
    let before: ListPosition | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await h.store.list('ada', { limit: 2, ...(before ? { before } : {}) });
      seen.push(...page.conversations.map((c) => c.id));
      if (!page.next) break;
      expect(page.next.id).toBe(page.conversations.at(-1)!.id);
      before = page.next;
    }
    expect(seen).toEqual(['c6', 'c5', 'c4', 'c3', 'c2', 'c1', 'c0']);
    // The last page is full and says so: no empty page after it.
    const last = await h.store.list('ada', {
      limit: 3,
      before: { at: later(1000).getTime(), id: 'c3' },
    });
    expect(last.conversations.map((c) => c.id)).toEqual(['c2', 'c1', 'c0']);
    expect(last.next).toBeNull();
  });

  it('pages through ties past deleted conversations among them', async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
    for (const id of ids) {
      await h.store.create(meta(id));
      await h.store.touch(id, later(1000));
    }
    for (const id of ['c6', 'c5', 'c4', 'c1']) await h.store.delete(id);
    const pages: string[][] = [];
    let before: ListPosition | undefined;
    for (let n = 0; n < 10; n++) {
      const page = await h.store.list('ada', { limit: 2, ...(before ? { before } : {}) });
      pages.push(page.conversations.map((c) => c.id));
      if (!page.next) break;
      before = page.next;
    }
    expect(pages).toEqual([
      ['c7', 'c3'],
      ['c2', 'c0'],
    ]);
  });

  it("lists only the owner's conversations", async () => {
    await h.store.create(meta('mine'));
    await h.store.create(meta('theirs', 'bob'));
    await h.store.touch('mine', later(1000));
    await h.store.touch('theirs', later(2000));
    expect((await h.store.list('ada', { limit: 10 })).conversations.map((c) => c.id)).toEqual([
      'mine',
    ]);
    expect((await h.store.list('bob', { limit: 10 })).conversations.map((c) => c.id)).toEqual([
      'theirs',
    ]);
    expect((await h.store.list('eve', { limit: 10 })).conversations).toEqual([]);
  });

  it('leaves deleted and expired conversations out of the list, pages included', async () => {
    // c2 is listed first and left to expire; the others stay active meanwhile.
    await h.store.create(meta('c2'));
    await h.store.touch('c2', later(2000));
    await h.age('c2', (TTL_SECONDS - 10) * 1000);
    for (const id of ['c1', 'c3', 'c4']) {
      await h.store.create(meta(id));
      await h.store.touch(id, later(Number(id.slice(1)) * 1000));
    }
    expect((await h.store.list('ada', { limit: 10 })).conversations).toHaveLength(4);
    await h.age('c2', 20_000);
    await h.store.delete('c3');
    // c4 and c1 only; a page of one still finds c1 past the two dropped.
    const first = await h.store.list('ada', { limit: 1 });
    expect(first.conversations.map((c) => c.id)).toEqual(['c4']);
    const second = await h.store.list('ada', { limit: 1, before: first.next! });
    expect(second.conversations.map((c) => c.id)).toEqual(['c1']);
    expect(second.next).toBeNull();
    // Created again after the delete, with no turn yet: not listed.
    await h.store.create(meta('c3'));
    expect((await h.store.list('ada', { limit: 10 })).conversations.map((c) => c.id)).toEqual([
      'c4',
      'c1',
    ]);
  });
});
