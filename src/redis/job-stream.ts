import type { Redis } from 'ioredis';
import type { TurnJob } from '../queue/job-queue.ts';
import { execOrThrow } from './errors.ts';
import type { QueueKeys } from './keys.ts';
import { readGroupEntries, type StreamEntry } from './stream-reply.ts';

/** The consumer group every worker reads the job stream with. */
const GROUP = 'workers';

/**
 * The stream commands of the job queue, in one place: what each reply looks like is
 * Redis's business, not the queue's. Commands go on the shared connection, except the
 * blocking read, which gets a connection of its own.
 */
export class JobStream {
  readonly #redis: Redis;
  readonly #keys: QueueKeys;

  constructor(redis: Redis, keys: QueueKeys) {
    this.#redis = redis;
    this.#keys = keys;
  }

  async add(job: TurnJob): Promise<void> {
    await this.#redis.xadd(this.#keys.jobs, '*', 'job', JSON.stringify(job));
  }

  /** Creates the group unless it exists; it reads from the start, so queued jobs are kept. */
  async createGroup(): Promise<void> {
    try {
      await this.#redis.xgroup('CREATE', this.#keys.jobs, GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** New jobs for `consumer`, waiting up to `blockMs` on the reader's own connection. */
  async read(
    reader: Redis,
    consumer: string,
    count: number,
    blockMs: number,
  ): Promise<StreamEntry[]> {
    const reply = await reader.call(
      'XREADGROUP',
      ...['GROUP', GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs],
      ...['STREAMS', this.#keys.jobs, '>'],
    );
    return readGroupEntries(reply);
  }

  /** New jobs for `consumer` without waiting, on the shared connection (no BLOCK). */
  async readNew(consumer: string, count: number): Promise<StreamEntry[]> {
    const reply = await this.#redis.call(
      'XREADGROUP',
      ...['GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', this.#keys.jobs, '>'],
    );
    return readGroupEntries(reply);
  }

  /** Done with a job: acked and deleted, so a group made anew never sees it again. */
  async ack(id: string): Promise<void> {
    await execOrThrow(
      this.#redis.multi().xack(this.#keys.jobs, GROUP, id).xdel(this.#keys.jobs, id).exec(),
    );
  }

  /**
   * The heartbeat: XCLAIM JUSTID of our own entries resets their idle time (and does not
   * count a delivery). Returns the ids still pending; a missing one was acked by another.
   */
  async touch(consumer: string, ids: readonly string[]): Promise<Set<string>> {
    const kept = (await this.#redis.call(
      'XCLAIM',
      ...[this.#keys.jobs, GROUP, consumer, 0, ...ids, 'JUSTID'],
    )) as string[];
    return new Set(kept);
  }

  /** XAUTOCLAIM: entries idle past `idleMs`, now `consumer`'s, and the cursor to go on from. */
  async claimIdle(
    consumer: string,
    idleMs: number,
    cursor: string,
  ): Promise<{ next: string; entries: StreamEntry[] }> {
    const [next, entries] = (await this.#redis.call(
      'XAUTOCLAIM',
      ...[this.#keys.jobs, GROUP, consumer, idleMs, cursor, 'COUNT', 20],
    )) as [string, StreamEntry[]];
    return { next, entries };
  }

  /** How many times the entry has been delivered (reads and claims). */
  async deliveries(id: string): Promise<number> {
    const pending = (await this.#redis.call('XPENDING', this.#keys.jobs, GROUP, id, id, 1)) as [
      string,
      string,
      number,
      number,
    ][];
    return pending[0]?.[3] ?? 0;
  }

  /** Copies a job to the dead-letter stream, for a person to look at. */
  async park(raw: string | undefined, reason: string): Promise<void> {
    const fields = ['job', raw ?? '', 'reason', reason, 'parkedAt', new Date().toISOString()];
    await this.#redis.xadd(this.#keys.dead, '*', ...fields);
  }
}
