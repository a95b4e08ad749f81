import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RedisConnections } from '../../src/redis/connection.ts';
import { conversationKeys, userKeys } from '../../src/redis/keys.ts';
import type { ListPosition } from '../../src/store/history-store.ts';
import { RedisHistoryStore } from '../../src/store/redis-history-store.ts';
import { adminRedis, deletePrefix, testConnections, testPrefix } from './fixture.ts';

// The Redis conversation list lives in another Cluster slot than the conversations, so it
// can fall behind them: docs/scaling.md, "The conversation list". Readers take the
// conversation as the truth.

const TTL_SECONDS = 3600;
const admin = adminRedis();
let prefix: string;
let connections: RedisConnections;
let store: RedisHistoryStore;

beforeEach(async () => {
  prefix = testPrefix();
  connections = await testConnections();
  store = new RedisHistoryStore({ redis: connections.command, ttlSeconds: TTL_SECONDS, prefix });
});
afterEach(async () => {
  await connections.close();
  await deletePrefix(admin, prefix);
});
afterAll(() => {
  admin.disconnect();
});

const now = Date.now();
async function listed(owner: string, ids: string[], at = now) {
  for (const id of ids) {
    await store.create({
      id,
      owner,
      model: 'm',
      title: id,
      createdAt: new Date(at).toISOString(),
      updatedAt: new Date(at).toISOString(),
    });
    await store.touch(id, new Date(at));
  }
}

/** Every page's ids, from the first to `next: null`. */
async function pages(owner: string, limit: number): Promise<string[][]> {
  const all: string[][] = [];
  let before: ListPosition | undefined;
  for (let n = 0; n < 20; n++) {
    const page = await store.list(owner, { limit, ...(before ? { before } : {}) });
    all.push(page.conversations.map((c) => c.id));
    if (!page.next) return all;
    before = page.next;
  }
  throw new Error('the list never ended');
}

describe('the Redis conversation list', () => {
  it('skips and removes entries whose conversation vanished behind its back, ties included', async () => {
    await listed('ada', ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    // Gone as on expiry or a lost write of the list: keys deleted, the entries left.
    for (const id of ['c7', 'c6', 'c5', 'c4', 'c2']) {
      const k = conversationKeys(prefix, id);
      await admin.del(k.meta, k.messages, k.turns);
    }
    const key = userKeys(prefix, 'ada').conversations;
    expect(await admin.zcard(key)).toBe(9);
    expect(await pages('ada', 2)).toEqual([
      ['c8', 'c3'],
      ['c1', 'c0'],
    ]);
    expect(await admin.zrange(key, 0, -1)).toEqual(['c0', 'c1', 'c3', 'c8']);
  });

  it('never shows an entry whose conversation belongs to someone else', async () => {
    await listed('bob', ['theirs']);
    await listed('ada', ['mine']);
    await admin.zadd(userKeys(prefix, 'ada').conversations, now + 1, 'theirs');
    expect(await pages('ada', 10)).toEqual([['mine']]);
    expect(await admin.zrange(userKeys(prefix, 'ada').conversations, 0, -1)).toEqual(['mine']);
  });

  it('gives the list key the time to live, and drops entries long past it on a write', async () => {
    await listed('ada', ['old'], now - (TTL_SECONDS + 7200) * 1000);
    const key = userKeys(prefix, 'ada').conversations;
    expect(await admin.zrange(key, 0, -1)).toEqual([]);
    await listed('ada', ['new']);
    expect(await admin.zrange(key, 0, -1)).toEqual(['new']);
    const ttl = await admin.ttl(key);
    expect(ttl).toBeGreaterThan(TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(TTL_SECONDS);
  });

  it('removes a deleted conversation from the list at once', async () => {
    await listed('ada', ['a', 'b']);
    await store.delete('a');
    expect(await admin.zrange(userKeys(prefix, 'ada').conversations, 0, -1)).toEqual(['b']);
  });
});
