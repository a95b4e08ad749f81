import type { Logger } from 'pino';
import type { FrameBus } from './bus/frame-bus.ts';
import { MemoryFrameBus } from './bus/memory-frame-bus.ts';
import type { Config } from './config/config.ts';
import type { JobQueue } from './queue/job-queue.ts';
import { MemoryJobQueue } from './queue/memory-job-queue.ts';
import type { HistoryStore } from './store/history-store.ts';
import { MemoryHistoryStore } from './store/memory-history-store.ts';

export interface Backends {
  readonly store: HistoryStore;
  readonly bus: FrameBus;
  readonly queue: JobQueue;
  /** Throws when any backend cannot be used. */
  ping(): Promise<void>;
  /** Closes every backend. Idempotent. */
  close(): Promise<void>;
}

/** In-memory state by default; Redis when REDIS_URL is set. Picked once at start-up. */
export async function createBackends(config: Config, log: Logger): Promise<Backends> {
  if (config.redisUrl) {
    throw new Error('Redis backends are not built yet.');
  }
  log.info('state: in memory (set REDIS_URL to share state between processes)');
  const store = new MemoryHistoryStore({ ttlSeconds: config.sessionTtlSeconds });
  const bus = new MemoryFrameBus();
  const queue = new MemoryJobQueue();
  let closed: Promise<void> | undefined;
  return {
    store,
    bus,
    queue,
    ping: async () => {
      await Promise.all([store.ping(), bus.ping(), queue.ping()]);
    },
    close: () => {
      closed ??= Promise.all([queue.close(), bus.close(), store.close()]).then(() => undefined);
      return closed;
    },
  };
}
