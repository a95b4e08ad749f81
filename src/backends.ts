import type { Logger } from 'pino';
import type { Approvals } from './approvals/approvals.ts';
import { MemoryApprovals } from './approvals/memory-approvals.ts';
import { RedisApprovals } from './approvals/redis-approvals.ts';
import type { FrameBus } from './bus/frame-bus.ts';
import { MemoryFrameBus } from './bus/memory-frame-bus.ts';
import { RedisFrameBus } from './bus/redis-frame-bus.ts';
import type { Config } from './config/config.ts';
import type { JobQueue } from './queue/job-queue.ts';
import { MemoryJobQueue } from './queue/memory-job-queue.ts';
import { RedisJobQueue } from './queue/redis-job-queue.ts';
import type { CallQuota } from './quota/call-quota.ts';
import { MemoryCallQuota } from './quota/memory-call-quota.ts';
import { RedisCallQuota } from './quota/redis-call-quota.ts';
import { RedisConnections } from './redis/connection.ts';
import type { HistoryStore } from './store/history-store.ts';
import { MemoryHistoryStore } from './store/memory-history-store.ts';
import { RedisHistoryStore } from './store/redis-history-store.ts';

export interface Backends {
  readonly store: HistoryStore;
  readonly bus: FrameBus;
  readonly queue: JobQueue;
  readonly approvals: Approvals;
  /** BEDROCK_MAX_CONCURRENCY's slots, shared like the rest; undefined when unbounded. */
  readonly quota: CallQuota | undefined;
  /** Throws when any backend cannot be used. */
  ping(): Promise<void>;
  /** Closes every backend. Idempotent. */
  close(): Promise<void>;
}

/** How long `/ready` waits for Redis to answer before it says 503. */
const PING_TIMEOUT_MS = 1_000;
/** How long start-up waits for Redis; after that the process starts anyway, not ready. */
const STARTUP_WAIT_MS = 5_000;

/**
 * The queue first: it drains, and the turns still running publish frames and commit to the
 * store until they end. Closing the bus or the store beside it would lose their answers.
 */
async function closeInOrder(
  backends: Pick<Backends, 'queue' | 'bus' | 'store' | 'approvals' | 'quota'>,
): Promise<void> {
  await backends.queue.close();
  await backends.quota?.close();
  await backends.approvals.close();
  await backends.bus.close();
  await backends.store.close();
}

/** In-memory state by default; Redis when REDIS_URL is set. Picked once at start-up. */
export async function createBackends(config: Config, log: Logger): Promise<Backends> {
  if (config.redisUrl) return createRedisBackends(config, config.redisUrl, log);
  log.info('state: in memory (set REDIS_URL to share state between processes)');
  const store = new MemoryHistoryStore({ ttlSeconds: config.sessionTtlSeconds });
  const bus = new MemoryFrameBus({ idleTtlMs: config.sessionTtlSeconds * 1000 });
  const queue = new MemoryJobQueue();
  const approvals = new MemoryApprovals();
  const max = config.bedrock.maxConcurrency;
  const quota = max === undefined ? undefined : new MemoryCallQuota({ max });
  let closed: Promise<void> | undefined;
  return {
    store,
    bus,
    queue,
    approvals,
    quota,
    // In memory: nothing can be down.
    ping: async () => {},
    close: () => {
      closed ??= closeInOrder({ queue, bus, store, approvals, quota });
      return closed;
    },
  };
}

/**
 * History, frames and jobs in Redis. A Redis that is down at start-up does not stop the
 * process: it starts unready (`/ready` 503) and connects when Redis comes.
 */
async function createRedisBackends(config: Config, url: string, log: Logger): Promise<Backends> {
  // Named by pid, so that CLIENT LIST tells which process holds which connection.
  const connections = new RedisConnections({ url, log, name: `agentgate-${process.pid}` });
  try {
    await connections.ready(STARTUP_WAIT_MS);
    log.info({ prefix: config.redisKeyPrefix }, 'state: in Redis');
  } catch (error) {
    log.warn({ err: error }, 'Redis is not reachable yet; starting unready, reconnecting');
  }
  const shared = {
    connections,
    log,
    prefix: config.redisKeyPrefix,
    ttlSeconds: config.sessionTtlSeconds,
  };
  const store = new RedisHistoryStore({ ...shared, redis: connections.command });
  const bus = new RedisFrameBus(shared);
  const queue = new RedisJobQueue({ ...shared, concurrency: config.workerConcurrency });
  const approvals = new RedisApprovals(shared);
  const max = config.bedrock.maxConcurrency;
  const quota =
    max === undefined
      ? undefined
      : new RedisCallQuota({ max, connections, log, prefix: config.redisKeyPrefix });
  let closed: Promise<void> | undefined;
  return {
    store,
    bus,
    queue,
    approvals,
    quota,
    ping: () => connections.ping(PING_TIMEOUT_MS),
    close: () => {
      closed ??= closeInOrder({ queue, bus, store, approvals, quota }).then(() =>
        connections.close(),
      );
      return closed;
    },
  };
}
