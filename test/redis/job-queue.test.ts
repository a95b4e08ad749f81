import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RedisFrameBus } from '../../src/bus/redis-frame-bus.ts';
import { ZERO_USAGE } from '../../src/protocol/frames.ts';
import type { TurnJob } from '../../src/queue/job-queue.ts';
import { RedisJobQueue, type RedisJobQueueOptions } from '../../src/queue/redis-job-queue.ts';
import type { RedisConnections } from '../../src/redis/connection.ts';
import { queueKeys } from '../../src/redis/keys.ts';
import {
  adminRedis,
  deletePrefix,
  eventually,
  killConnection,
  testConnections,
  testLog,
  testPrefix,
} from './fixture.ts';

// Fast timings: a job idle 1.5 s belongs to a dead worker (slack for a loaded machine).
const FAST = {
  heartbeatMs: 100,
  reclaimIdleMs: 1_500,
  reclaimIntervalMs: 150,
  blockMs: 200,
  closeGraceMs: 500,
};

let prefix: string;
let admin: Redis;
let opened: { connections: RedisConnections; queue: RedisJobQueue }[];
let bus: RedisFrameBus;

beforeEach(async () => {
  prefix = testPrefix();
  admin = adminRedis();
  opened = [];
  const connections = await testConnections();
  bus = new RedisFrameBus({ connections, log: testLog, prefix, ttlSeconds: 3600 });
  opened.push({
    connections,
    queue: new RedisJobQueue({ connections, log: testLog, prefix, ttlSeconds: 3600 }),
  });
});
afterEach(async () => {
  await bus.close();
  for (const { queue, connections } of opened) {
    await queue.close();
    await connections.close();
  }
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

/** A worker: its own connections (named `name` if given) and queue. */
async function worker(options: Partial<RedisJobQueueOptions> = {}, name?: string) {
  const connections = await testConnections(name);
  const queue = new RedisJobQueue({
    connections,
    log: testLog,
    prefix,
    ttlSeconds: 3600,
    ...FAST,
    ...options,
  });
  opened.push({ connections, queue });
  return { connections, queue };
}
const gateway = () => opened[0]!.queue;

const job = (turnId: string): TurnJob => ({
  turnId,
  conversationId: `c_${turnId}`,
  userId: 'ada',
  content: `question ${turnId}`,
  model: 'm1',
  agent: 'default',
  acceptedAt: new Date().toISOString(),
});

async function submit(j: TurnJob): Promise<void> {
  await bus.startTurn(j.conversationId, j.turnId, {
    type: 'turn-start',
    model: j.model,
    agent: j.agent,
    userMessage: { content: j.content },
  });
  await gateway().enqueue(j);
}

const pendingCount = async () => {
  try {
    const summary = (await admin.call('XPENDING', queueKeys(prefix).jobs, 'workers')) as [number];
    return summary[0];
  } catch {
    // No group yet: nothing is pending.
    return 0;
  }
};

describe('redis job queue', () => {
  it('keeps jobs queued before any worker started', async () => {
    await submit(job('t1'));
    const seen: string[] = [];
    const w = await worker();
    await w.queue.consume(async (j) => {
      seen.push(j.turnId);
    });
    await eventually(() => seen.length === 1, 5_000, 'the job');
    expect(seen).toEqual(['t1']);
    await eventually(async () => (await pendingCount()) === 0, 2_000, 'ack');
    expect(await admin.xlen(queueKeys(prefix).jobs)).toBe(0);
  });

  it('hands the job of a dead worker to onLost, never to another handler', async () => {
    const a = await worker();
    let started = false;
    await a.queue.consume(async () => {
      started = true;
      await new Promise(() => {});
    });
    const b = await worker();
    const lost: TurnJob[] = [];
    let bRan = false;
    b.queue.watchLost(async (j) => void lost.push(j));
    await b.queue.consume(async () => {
      bRan = true;
    });
    const submitted = job('t1');
    await submit(submitted);
    await eventually(() => started, 5_000, 'job started on A');
    const died = Date.now();
    // A dies: its connections drop, its heartbeats stop.
    await a.connections.close();
    await eventually(() => lost.length === 1, 5_000, 'onLost');
    expect(Date.now() - died).toBeLessThan(5_000);
    expect(lost[0]).toEqual(submitted);
    expect(bRan).toBe(false);
    await eventually(async () => (await pendingCount()) === 0, 2_000, 'ack');
  });

  it('keeps a live job that runs longer than the idle timeout and the lease', async () => {
    const runningKey = `${prefix}{c_t1}:running`;
    // A lease shorter than the job: only the heartbeat keeps the turn holding its conversation.
    const a = await worker({ turnLeaseMs: 1_000 });
    let holder: string | null | undefined;
    await a.queue.consume(async () => {
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      holder = await admin.get(runningKey);
    });
    const b = await worker();
    const lost: TurnJob[] = [];
    b.queue.watchLost(async (j) => void lost.push(j));
    await b.queue.consume(async () => {});
    await submit(job('t1'));
    await eventually(() => holder !== undefined, 8_000, 'long job done');
    expect(holder).toBe('t1');
    expect(lost).toEqual([]);
  });

  it('parks a job delivered more than maxDeliveries times, and still ends its turn', async () => {
    const a = await worker();
    await a.queue.consume(() => new Promise(() => {}));
    const submitted = job('t1');
    await submit(submitted);
    await eventually(async () => (await pendingCount()) === 1, 5_000, 'job taken');
    await a.connections.close();
    const b = await worker({ maxDeliveries: 3 });
    let calls = 0;
    b.queue.watchLost(async () => {
      calls++;
      if (calls <= 2) throw new Error('cannot end the turn yet');
    });
    await eventually(
      async () => (await admin.xlen(queueKeys(prefix).dead)) === 1,
      15_000,
      'parked',
    );
    const [[, fields]] = (await admin.xrange(queueKeys(prefix).dead, '-', '+')) as [
      [string, string[]],
    ];
    expect(JSON.parse(fields[1]!)).toEqual(submitted);
    expect(fields).toContain('delivered 4 times');
    expect(calls).toBe(3);
    expect(await pendingCount()).toBe(0);
  });

  it.each([
    ['a field of the wrong type', JSON.stringify({ ...job('t1'), turnId: 42 })],
    ['a missing field', JSON.stringify({ ...job('t1'), acceptedAt: undefined })],
    ['text that is not JSON', '{"turnId":'],
  ])('parks an entry with %s unrun, keeping its text for a person', async (_, raw) => {
    await admin.xadd(queueKeys(prefix).jobs, '*', 'job', raw);
    const ran: TurnJob[] = [];
    const w = await worker();
    await w.queue.consume(async (j) => {
      ran.push(j);
    });
    await eventually(async () => (await admin.xlen(queueKeys(prefix).dead)) === 1, 5_000, 'parked');
    const [[, fields]] = (await admin.xrange(queueKeys(prefix).dead, '-', '+')) as [
      [string, string[]],
    ];
    expect(fields.slice(0, 4)).toEqual(['job', raw, 'reason', 'unreadable job']);
    await eventually(async () => (await pendingCount()) === 0, 2_000, 'ack');
    expect(ran).toEqual([]);
  });

  it('runs a job cancelled while it waited with its signal already aborted', async () => {
    await submit(job('t1'));
    await gateway().cancel('c_t1', 't1');
    const w = await worker();
    const aborted: boolean[] = [];
    await w.queue.consume(async (_j, signal) => void aborted.push(signal.aborted));
    await eventually(() => aborted.length === 1, 5_000, 'the job');
    expect(aborted).toEqual([true]);
  });

  it('does not run a job whose turn has ended; it goes to onLost', async () => {
    await submit(job('t1'));
    await bus.publish('c_t1', 't1', {
      type: 'turn-end',
      stopReason: 'cancelled',
      text: '',
      usage: { ...ZERO_USAGE },
      durationMs: 1,
      model: 'm1',
    });
    const w = await worker();
    let ran = false;
    const lost: string[] = [];
    w.queue.watchLost(async (j) => void lost.push(j.turnId));
    await w.queue.consume(async () => {
      ran = true;
    });
    await eventually(() => lost.length === 1, 5_000, 'onLost');
    expect(ran).toBe(false);
  });

  it('stops a job that another worker took over while its heartbeat was late', async () => {
    // A heartbeats only every 4 s (and never reclaims); B calls a job idle 1.5 s lost.
    const a = await worker({ heartbeatMs: 4_000, reclaimIntervalMs: 60_000 });
    let signal: AbortSignal | undefined;
    await a.queue.consume((_j, s) => {
      signal = s;
      return new Promise((resolve) => s.addEventListener('abort', () => resolve()));
    });
    const b = await worker();
    const lost: string[] = [];
    b.queue.watchLost(async (j) => void lost.push(j.turnId));
    await b.queue.consume(async () => {});
    await submit(job('t1'));
    await eventually(() => lost.length === 1, 5_000, 'taken over');
    expect(signal?.aborted).toBe(false);
    // A's next heartbeat finds the job acked by B: A stops running it.
    await eventually(() => signal?.aborted, 5_000, 'abort on A');
  });

  it('closes idempotently, waiting for running jobs first', async () => {
    const w = await worker();
    let finished = false;
    await w.queue.consume(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      finished = true;
    });
    await submit(job('t1'));
    await eventually(async () => (await pendingCount()) === 1, 5_000, 'taken');
    await Promise.all([w.queue.close(), w.queue.close()]);
    expect(finished).toBe(true);
    await w.queue.close();
    expect(await pendingCount()).toBe(0);
  });

  it('aborts a job whose cancel was published while its control subscriber was away', async () => {
    const name = `wc${Date.now().toString(36)}`;
    const w = await worker({}, name);
    let signal: AbortSignal | undefined;
    await w.queue.consume((_j, s) => {
      signal = s;
      return new Promise((resolve) => s.addEventListener('abort', () => resolve()));
    });
    await submit(job('t1'));
    await eventually(() => signal, 5_000, 'job running');
    // The subscriber reconnects after ~100 ms; the cancel is published before that.
    await killConnection(admin, `${name}-control`);
    await gateway().cancel('c_t1', 't1');
    // Heartbeats every 100 ms: the abort comes within a few of them.
    await eventually(() => signal?.aborted, 1_000, 'abort found by the heartbeat');
  });

  it('stops taking jobs as soon as it closes, while running ones drain', async () => {
    const w = await worker({ closeGraceMs: 3_000 });
    const seen: string[] = [];
    await w.queue.consume(async (j) => {
      seen.push(j.turnId);
      await new Promise((resolve) => setTimeout(resolve, 800));
    });
    await submit(job('t1'));
    await eventually(() => seen.length === 1, 5_000, 't1 running');
    const closed = w.queue.close();
    await submit(job('t2'));
    await closed;
    expect(seen).toEqual(['t1']);
    // t2 is still queued for another worker: never delivered, not pending.
    expect(await admin.xlen(queueKeys(prefix).jobs)).toBe(1);
    expect(await pendingCount()).toBe(0);
  });

  it('on close, aborts the jobs still running after the grace, and acks them once they end', async () => {
    const w = await worker({ closeGraceMs: 500 });
    let signal: AbortSignal | undefined;
    await w.queue.consume((_j, s) => {
      signal = s;
      return new Promise((resolve) => s.addEventListener('abort', () => resolve()));
    });
    await submit(job('t1'));
    await eventually(() => signal, 5_000, 'job running');
    const started = Date.now();
    await w.queue.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(signal?.aborted).toBe(true);
    expect(await pendingCount()).toBe(0);
  });
});
