import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import type { CallQuotaOptions, QuotaLease } from '../../src/quota/call-quota.ts';
import { RedisCallQuota, type RedisCallQuotaOptions } from '../../src/quota/redis-call-quota.ts';
import { RedisConnections } from '../../src/redis/connection.ts';
import { quotaKeys } from '../../src/redis/keys.ts';
import { callQuotaContract } from '../quota/call-quota-contract.ts';
import {
  adminRedis,
  deletePrefix,
  eventually,
  REDIS_URL,
  testConnections,
  testLog,
  testPrefix,
} from './fixture.ts';
import { Child, freePort } from './processes.ts';

// Every quota has connections of its own, as a process of its own would.
const POLL_MS = 100;

let prefix: string;
let admin: Redis;
let opened: { connections: RedisConnections; quota: RedisCallQuota }[];

beforeEach(() => {
  prefix = testPrefix();
  admin = adminRedis();
  opened = [];
});
afterEach(async () => {
  for (const { quota, connections } of opened.splice(0)) {
    await quota.close();
    await connections.close();
  }
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

async function quota(options: Partial<RedisCallQuotaOptions> & CallQuotaOptions) {
  const connections = await testConnections();
  const made = new RedisCallQuota({
    connections,
    log: testLog,
    prefix,
    pollMs: POLL_MS,
    ...options,
  });
  opened.push({ connections, quota: made });
  return made;
}

// A call of a dead process stays queued for 8 polls (800 ms): promptly is well below.
callQuotaContract(
  'RedisCallQuota',
  (count, options) => Promise.all(Array.from({ length: count }, () => quota(options))),
  { quietMs: 300, promptMs: 500 },
);

const waiting = (key = 'm') => admin.zcard(quotaKeys(prefix, key).waiters);

describe('RedisCallQuota across processes', () => {
  // A call is admitted when its rank among the waiters is below the free slots: calls ahead
  // of it still waiting are fewer than max. With max 1, strictly in ticket order.
  it.each([1, 4])('admits calls of every quota in ticket order (max %i)', async (max) => {
    const quotas = await Promise.all([1, 2, 3].map(() => quota({ max })));
    const blockers = await Promise.all(
      Array.from({ length: max }, (_, i) => quotas[i % 3]!.acquire('m')),
    );
    const admitted = new Set<number>();
    let mostAhead = 0;
    let holding = 0;
    let most = 0;
    const calls: Promise<void>[] = [];
    for (let i = 0; i < 30; i++) {
      calls.push(
        quotas[i % 3]!.acquire('m').then(async (lease) => {
          const ahead = Array.from({ length: i }, (_, j) => j).filter((j) => !admitted.has(j));
          mostAhead = Math.max(mostAhead, ahead.length);
          admitted.add(i);
          holding += 1;
          most = Math.max(most, holding);
          await sleep(3);
          holding -= 1;
          await lease.release();
        }),
      );
      // The next call arrives once this one holds its ticket.
      await eventually(async () => (await waiting()) === i + 1, 5_000, `call ${i} queued`);
    }
    await Promise.all(blockers.map((lease) => lease.release()));
    await Promise.all(calls);
    expect(admitted.size).toBe(30);
    expect(mostAhead).toBeLessThan(max);
    expect(most).toBeLessThanOrEqual(max);
  });

  it('keeps every key of one quota key in one hash slot, and none once all is done', async () => {
    const [a, b] = await Promise.all([quota({ max: 1 }), quota({ max: 1 })]);
    const held = await a.acquire('model:x');
    const next = b.acquire('model:x');
    await eventually(async () => (await waiting('model:x')) === 1, 5_000, 'queued');
    await a.throttled('model:x');
    const keys = await admin.keys(`${prefix}*`);
    expect(keys.sort()).toEqual(
      ['alive', 'halved', 'holders', 'lowered', 'ticket', 'waiters'].map(
        (k) => `${prefix}quota:{model:x}:${k}`,
      ),
    );
    await held.release();
    await (await next).release();
    // Only the lowered bound stays, for its window (and the marker of its halving).
    expect((await admin.keys(`${prefix}*`)).sort()).toEqual(
      ['halved', 'lowered'].map((k) => `${prefix}quota:{model:x}:${k}`),
    );
  });

  it('renews a slot held longer than its lease', async () => {
    const [a, b] = await Promise.all([
      quota({ max: 1, leaseMs: 300 }),
      quota({ max: 1, leaseMs: 300 }),
    ]);
    const held = await a.acquire('m');
    let releasedAt = 0;
    const next = b.acquire('m').then((lease) => ({ lease, at: performance.now() }));
    await sleep(1_200);
    releasedAt = performance.now();
    await held.release();
    const { lease, at } = await next;
    expect(at).toBeGreaterThanOrEqual(releasedAt);
    await lease.release();
  });

  it('gives back the slot of a quota closed without releasing, after its lease', async () => {
    const [a, b] = await Promise.all([
      quota({ max: 1, leaseMs: 500 }),
      quota({ max: 1, leaseMs: 500 }),
    ]);
    await a.acquire('m');
    await a.close();
    const lease = await b.acquire('m');
    expect(lease.waitedMs).toBeGreaterThan(200);
    expect(lease.waitedMs).toBeLessThan(500 + 1_500);
    await lease.release();
  });

  it('drops a call whose process went away while it waited', async () => {
    const a = await quota({ max: 1 });
    const b = await quota({ max: 1 });
    const c = await quota({ max: 1 });
    const held = await a.acquire('m');
    const lost = b.acquire('m').catch((error: unknown) => error);
    await eventually(async () => (await waiting()) === 1, 5_000, 'queued');
    // Its process dies: the call stays queued in Redis, nobody asks for it any more.
    await opened[1]!.connections.close();
    const next = c.acquire('m');
    await eventually(async () => (await waiting()) === 2, 5_000, 'queued behind it');
    await held.release();
    const lease: QuotaLease = await next;
    expect(await lost).toMatchObject({ code: 'unavailable' });
    // It waited for the dead call to count as gone (8 polls), not for ever.
    expect(lease.waitedMs).toBeLessThan(8 * POLL_MS + 2_000);
    await lease.release();
  });
});

describe('RedisCallQuota with a process that dies', () => {
  it('gives back the slot and the place of a process killed while it held one and waited', async () => {
    const child = new Child(
      'quota-process',
      process.execPath,
      ['--import', 'tsx', 'test/redis/quota-process.ts'],
      {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        QUOTA_LEASE_MS: '600',
        QUOTA_POLL_MS: String(POLL_MS),
      },
    );
    onTestFailed(() => console.error(child.log()));
    try {
      await eventually(
        () => {
          if (!child.running) throw new Error(`quota-process exited\n${child.log()}`);
          return child.output.join('').includes('held');
        },
        30_000,
        'quota-process holding its slot',
      );
      await eventually(async () => (await waiting()) === 1, 5_000, 'its second call queued');
      const ours = await quota({ max: 1, leaseMs: 600 });
      let admitted = false;
      const call = ours.acquire('m').then((lease) => {
        admitted = true;
        return lease;
      });
      await eventually(async () => (await waiting()) === 2, 5_000, 'our call queued');
      // Well past its lease and the life of an unrenewed place: a live process keeps both.
      await sleep(1_500);
      expect(admitted).toBe(false);
      await child.kill();
      const killedAt = performance.now();
      const lease = await call;
      // Its lease (600 ms) and its place (8 polls) lapse; then ours is next.
      expect(performance.now() - killedAt).toBeLessThan(600 + 8 * POLL_MS + 2_000);
      expect(lease.waitedMs).toBeGreaterThan(1_500);
      await lease.release();
      expect(child.output.join('')).not.toContain('held twice');
    } finally {
      await child.kill();
    }
  });
});

describe('RedisCallQuota while Redis is down', () => {
  it('rejects with unavailable', async () => {
    const connections = new RedisConnections({
      url: `redis://127.0.0.1:${await freePort()}`,
      log: testLog,
    });
    const down = new RedisCallQuota({ connections, log: testLog, prefix, max: 2 });
    opened.push({ connections, quota: down });
    const unavailable = { code: 'unavailable', retryable: true };
    await expect(down.acquire('m')).rejects.toMatchObject(unavailable);
    await expect(down.throttled('m')).rejects.toMatchObject(unavailable);
    await expect(down.limit('m')).rejects.toMatchObject(unavailable);
  });
});
