import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FrameBus } from '../../src/bus/frame-bus.ts';
import { MemoryFrameBus } from '../../src/bus/memory-frame-bus.ts';
import { RedisFrameBus } from '../../src/bus/redis-frame-bus.ts';
import type { JobQueue, TurnJob } from '../../src/queue/job-queue.ts';
import { MemoryJobQueue } from '../../src/queue/memory-job-queue.ts';
import { RedisJobQueue } from '../../src/queue/redis-job-queue.ts';
import {
  adminRedis,
  deletePrefix,
  eventually,
  testConnections,
  testLog,
  testPrefix,
} from '../redis/fixture.ts';

interface Harness {
  /** A gateway's view: it queues and cancels. */
  gateway: JobQueue;
  /** A worker's view: it consumes. Same object in memory. */
  worker: JobQueue;
  bus: FrameBus;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<Harness> {
  const queue = new MemoryJobQueue({ closeGraceMs: 500 });
  const bus = new MemoryFrameBus();
  return { gateway: queue, worker: queue, bus, close: () => queue.close() };
}

async function redisHarness(): Promise<Harness> {
  const prefix = testPrefix();
  const gatewayConnections = await testConnections();
  const workerConnections = await testConnections();
  const options = { log: testLog, prefix, ttlSeconds: 3600, blockMs: 200 };
  const gateway = new RedisJobQueue({ ...options, connections: gatewayConnections });
  const worker = new RedisJobQueue({
    ...options,
    connections: workerConnections,
    closeGraceMs: 500,
  });
  const bus = new RedisFrameBus({ ...options, connections: gatewayConnections });
  return {
    gateway,
    worker,
    bus,
    close: async () => {
      await Promise.all([gateway.close(), worker.close(), bus.close()]);
      await Promise.all([gatewayConnections.close(), workerConnections.close()]);
      const admin = adminRedis();
      await deletePrefix(admin, prefix);
      admin.disconnect();
    },
  };
}

const job = (turnId: string, conversationId = `c_${turnId}`): TurnJob => ({
  turnId,
  conversationId,
  userId: 'ada',
  content: `question ${turnId}`,
  model: 'm1',
  agent: 'default',
  acceptedAt: new Date().toISOString(),
});

/** Starts the job's turn on the bus, as a gateway does, then queues it. */
async function submit(h: Harness, j: TurnJob): Promise<void> {
  await h.bus.startTurn(j.conversationId, j.turnId, {
    type: 'turn-start',
    model: j.model,
    agent: j.agent,
    userMessage: { content: j.content },
  });
  await h.gateway.enqueue(j);
}

describe.each([
  ['memory', memoryHarness],
  ['redis', redisHarness],
])('%s job queue', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('counts a worker as alive while it consumes, and not once it has closed', async () => {
    expect(await h.gateway.workersAlive()).toBe(false);
    await h.worker.consume(async () => {});
    expect(await h.gateway.workersAlive()).toBe(true);
    await h.worker.close();
    expect(await h.gateway.workersAlive()).toBe(false);
  });

  it('hands each queued job to the consumer once, intact', async () => {
    const seen: TurnJob[] = [];
    await h.worker.consume(async (j) => {
      seen.push(j);
    });
    const jobs = ['t1', 't2', 't3'].map((t) => job(t));
    for (const j of jobs) await submit(h, j);
    await eventually(() => seen.length === 3, 5_000, 'three jobs');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect([...seen].sort((a, b) => a.turnId.localeCompare(b.turnId))).toEqual(jobs);
  });

  it('runs jobs of different conversations at the same time', async () => {
    let running = 0;
    let peak = 0;
    await h.worker.consume(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 200));
      running--;
    });
    for (const t of ['t1', 't2', 't3']) await submit(h, job(t));
    await eventually(() => peak === 3, 5_000, 'three jobs at once');
  });

  it('aborts the signal of the running job on cancel, and only that one', async () => {
    const signals = new Map<string, AbortSignal>();
    await h.worker.consume(
      (j, signal) =>
        new Promise<void>((resolve) => {
          signals.set(j.turnId, signal);
          signal.addEventListener('abort', () => resolve());
          setTimeout(resolve, 1_000);
        }),
    );
    await submit(h, job('t1'));
    await submit(h, job('t2'));
    await eventually(() => signals.size === 2, 5_000, 'both jobs running');
    await h.gateway.cancel('c_t1', 't1');
    await eventually(() => signals.get('t1')!.aborted, 3_000, 'abort');
    expect(signals.get('t2')!.aborted).toBe(false);
  });

  it('on close, lets running jobs finish within the grace, then aborts the rest', async () => {
    const outcome = new Map<string, string>();
    const started = new Set<string>();
    await h.worker.consume(
      (j, signal) =>
        new Promise<void>((resolve) => {
          started.add(j.turnId);
          const timer = setTimeout(
            () => {
              outcome.set(j.turnId, 'finished');
              resolve();
            },
            j.turnId === 'quick' ? 150 : 60_000,
          );
          signal.addEventListener('abort', () => {
            clearTimeout(timer);
            outcome.set(j.turnId, 'aborted');
            resolve();
          });
        }),
    );
    await submit(h, job('quick'));
    await submit(h, job('slow'));
    await eventually(() => started.size === 2, 5_000, 'both jobs running');
    await h.worker.close();
    expect(Object.fromEntries(outcome)).toEqual({ quick: 'finished', slow: 'aborted' });
  });
});
