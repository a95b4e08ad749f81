import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type RedisConnections, whenReady } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import { JobStream } from '../redis/job-stream.ts';
import {
  checkPrefix,
  conversationKeys,
  DEFAULT_KEY_PREFIX,
  DEFAULT_TURN_LEASE_MS,
  type QueueKeys,
  queueKeys,
} from '../redis/keys.ts';
import {
  CANCEL_TURN,
  CLAIM_TURN,
  RENEW_TURN,
  WORKER_BEAT,
  WORKERS_ALIVE,
} from '../redis/scripts.ts';
import { fieldOf, parseJob } from '../redis/stream-reply.ts';
import type { JobHandler, JobQueue, LostJobHandler, TurnJob } from './job-queue.ts';
import { LostJobs } from './lost-jobs.ts';

/** Timings and limits; every one has a default (TIMING). */
export interface Timing {
  readonly turnLeaseMs?: number;
  /** How often a worker says its jobs are alive (resets their idle time, renews leases). */
  readonly heartbeatMs?: number;
  /** A pending job idle this long belongs to a dead worker. */
  readonly reclaimIdleMs?: number;
  readonly reclaimIntervalMs?: number;
  /** Deliveries after which a job is parked instead of handed to onLost again. */
  readonly maxDeliveries?: number;
  /** Jobs one worker runs at once. */
  readonly concurrency?: number;
  readonly blockMs?: number;
  /** On close, how long running jobs may take to finish before their signals abort. */
  readonly closeGraceMs?: number;
  /** A worker whose last heartbeat is older than this is not counted as alive. */
  readonly workerAliveMs?: number;
}

/** After the grace, how long aborted jobs get to publish their last frames and ack. */
const SETTLE_MS = 2_000;

const TIMING: Required<Timing> = {
  turnLeaseMs: DEFAULT_TURN_LEASE_MS,
  heartbeatMs: 3_000,
  reclaimIdleMs: 10_000,
  reclaimIntervalMs: 3_000,
  maxDeliveries: 3,
  concurrency: 32,
  blockMs: 2_000,
  closeGraceMs: 10_000,
  workerAliveMs: 10_000,
};

export interface RedisJobQueueOptions extends Timing {
  /** Commands go on the shared connection; the consumer opens its reader and subscriber. */
  readonly connections: RedisConnections;
  readonly log: Logger;
  /** Lifetime of the per-conversation cancel marker. */
  readonly ttlSeconds: number;
  readonly prefix?: string;
  readonly consumer?: string;
}

interface Running {
  readonly job: TurnJob;
  readonly controller: AbortController;
  done: Promise<void>;
}

/**
 * Jobs on a Redis Stream read by the consumer group `workers`. A worker takes the job's
 * turn (CLAIM_TURN), runs it, then acks and deletes the entry. While it runs, the worker
 * heartbeats: XCLAIM JUSTID on its own entries resets their idle time and renews the turn's
 * lease (and finds cancels the control channel missed). Every process that watches for lost
 * jobs (`watchLost`: gateways and workers alike) reclaims (XAUTOCLAIM) entries idle past
 * `reclaimIdleMs`: those jobs are never run again but handed to `onLost`, which ends their
 * turns; a job delivered more than `maxDeliveries` times is parked on the dead-letter
 * stream. Cancels travel on a control channel and as a per-conversation marker.
 */
export class RedisJobQueue implements JobQueue {
  readonly #connections: RedisConnections;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #keys: QueueKeys;
  readonly #stream: JobStream;
  readonly #ttl: number;
  readonly #o: Required<Timing>;
  readonly consumer: string;
  /** Running jobs by stream entry id. */
  readonly #running = new Map<string, Running>();
  #handler: JobHandler | undefined;
  #onLost: LostJobHandler | undefined;
  readonly #lost: LostJobs;
  #reader: Redis | undefined;
  #control: Redis | undefined;
  #timers: NodeJS.Timeout[] = [];
  #loop: Promise<void> | undefined;
  #group: Promise<void> | undefined;
  #slotFreed: (() => void) | undefined;
  #reclaiming = false;
  #passesWithoutWorker = 0;
  #stopping = false;
  #closed: Promise<void> | undefined;

  constructor(options: RedisJobQueueOptions) {
    const { connections, log, ttlSeconds, prefix, consumer, ...timing } = options;
    this.#connections = connections;
    this.#redis = connections.command;
    this.#log = log.child({ component: 'job-queue' });
    this.#prefix = checkPrefix(prefix ?? DEFAULT_KEY_PREFIX);
    this.#keys = queueKeys(this.#prefix);
    this.#stream = new JobStream(this.#redis, this.#keys);
    this.#ttl = Math.max(1, Math.round(ttlSeconds));
    this.#o = { ...TIMING, ...withoutUndefined(timing) };
    this.consumer = consumer ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.#lost = new LostJobs({
      stream: this.#stream,
      consumer: this.consumer,
      idleMs: this.#o.reclaimIdleMs,
      maxDeliveries: this.#o.maxDeliveries,
      onLost: () => this.#onLost,
      isRunning: (id) => this.#running.has(id),
      ack: (id) => this.#ack(id),
      log: this.#log,
    });
  }

  async enqueue(job: TurnJob): Promise<void> {
    await redisCall('queue turn', () => this.#stream.add(job));
  }

  async consume(handler: JobHandler): Promise<void> {
    if (this.#handler) throw new Error('This queue already has a consumer.');
    if (this.#stopping) throw new Error('The queue is closed.');
    this.#handler = handler;
    this.#reader = this.#connections.open('blocking', 'jobs');
    const control = this.#connections.open('subscriber', 'control');
    this.#control = control;
    control.on('message', (_channel: string, message: string) => this.#onCancel(message));
    control.on('ready', () => {
      control
        .subscribe(this.#keys.control)
        .catch((error: unknown) =>
          this.#log.warn({ err: error }, 'control channel subscribe failed'),
        );
    });
    this.#every(this.#o.heartbeatMs, () => this.#heartbeat());
    this.#every(this.#o.heartbeatMs, () => this.#beat());
    await this.#beat();
    this.#loop = this.#readLoop();
  }

  async workersAlive(): Promise<boolean> {
    const alive = await redisCall('count workers', () =>
      WORKERS_ALIVE.run(this.#redis, [this.#keys.workers], [this.#o.workerAliveMs]),
    );
    return Number(alive) > 0;
  }

  /** This worker is alive (while it takes jobs): one entry in the workers set, renewed. */
  async #beat(): Promise<void> {
    if (this.#stopping) return;
    try {
      await WORKER_BEAT.run(
        this.#redis,
        [this.#keys.workers],
        [this.consumer, this.#o.workerAliveMs],
      );
    } catch (error) {
      this.#log.warn({ err: error }, 'worker heartbeat failed');
    }
  }

  watchLost(onLost: LostJobHandler): void {
    if (this.#onLost) throw new Error('This queue already watches for lost jobs.');
    if (this.#stopping) throw new Error('The queue is closed.');
    this.#onLost = onLost;
    this.#every(this.#o.reclaimIntervalMs, () => this.#reclaim());
  }

  #every(ms: number, task: () => Promise<void>): void {
    const timer = setInterval(() => void task(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  async cancel(conversationId: string, turnId: string): Promise<void> {
    const k = conversationKeys(this.#prefix, conversationId);
    await redisCall('cancel turn', () =>
      CANCEL_TURN.run(
        this.#redis,
        [k.cancelled],
        [turnId, this.#ttl, this.#keys.control, JSON.stringify({ conversationId, turnId })],
      ),
    );
  }

  /**
   * The one drain of a worker: stops taking jobs, lets running ones finish for up to
   * `closeGraceMs` (heartbeats go on meanwhile), then aborts the signals of those still
   * running and gives them a moment to end their turns and ack. Idempotent.
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#slotFreed?.();
    this.#reader?.disconnect(false);
    if (this.#handler) {
      // No longer takes jobs: gateways stop counting on it at once.
      await this.#redis
        .zrem(this.#keys.workers, this.consumer)
        .catch((error: unknown) => this.#log.warn({ err: error }, 'could not sign the worker off'));
    }
    await this.#loop;
    if (this.#running.size > 0) {
      this.#log.info({ running: this.#running.size }, 'waiting for running turns before closing');
      await this.#settle(this.#o.closeGraceMs);
    }
    if (this.#running.size > 0) {
      this.#log.warn({ running: this.#running.size }, 'aborting turns still running at close');
      for (const entry of this.#running.values()) entry.controller.abort();
      await this.#settle(SETTLE_MS);
    }
    for (const timer of this.#timers) clearInterval(timer);
    this.#control?.disconnect(false);
  }

  async #settle(ms: number): Promise<void> {
    await Promise.race([
      Promise.allSettled([...this.#running.values()].map((r) => r.done)),
      sleep(ms, undefined, { ref: false }),
    ]);
  }

  async #readLoop(): Promise<void> {
    const reader = this.#reader!;
    while (!this.#stopping) {
      const free = this.#o.concurrency - this.#running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          this.#slotFreed = resolve;
        });
        continue;
      }
      try {
        await whenReady(reader, this.#o.blockMs);
        await this.#ensureGroup();
        const entries = await this.#stream.read(reader, this.consumer, free, this.#o.blockMs);
        for (const [id, fields] of entries) await this.#take(id, fields);
      } catch (error) {
        if (this.#stopping) break;
        if (String(error).includes('NOGROUP')) this.#group = undefined;
        this.#log.warn({ err: error }, 'reading jobs failed; retrying');
        await sleep(1_000);
      }
    }
  }

  /** The group reads from the start of the stream: jobs queued before any worker are kept. */
  #ensureGroup(): Promise<void> {
    this.#group ??= this.#stream.createGroup().catch((error: unknown) => {
      this.#group = undefined;
      throw error;
    });
    return this.#group;
  }

  async #take(id: string, fields: string[] | null): Promise<void> {
    const raw = fieldOf(fields, 'job');
    const job = parseJob(raw);
    if (!job) {
      await this.#lost.park(id, raw, undefined, 'unreadable job');
      return;
    }
    const controller = new AbortController();
    const entry: Running = { job, controller, done: Promise.resolve() };
    // Registered before the claim: a cancel arriving from now on finds it.
    this.#running.set(id, entry);
    const k = conversationKeys(this.#prefix, job.conversationId);
    let claim: unknown;
    try {
      claim = await CLAIM_TURN.run(
        this.#redis,
        [k.running, k.seq, k.ended, k.cancelled],
        [job.turnId, this.#o.turnLeaseMs],
      );
    } catch (error) {
      // Left pending: a reclaimer ends the turn once Redis answers again.
      this.#finish(id);
      this.#log.warn(
        { err: error, turnId: job.turnId },
        'could not take a job; it will be reclaimed',
      );
      return;
    }
    if (claim === 0) {
      this.#finish(id);
      this.#log.warn({ turnId: job.turnId }, 'job whose turn is no longer this worker’s to run');
      await this.#lost.lose(id, job, 'worker died');
      return;
    }
    if (claim === 2) controller.abort();
    // A handler that fails could not end its turn: the job stays pending, and a reclaimer
    // ends the turn as lost once it is idle (and Redis answers).
    entry.done = this.#handler!(job, controller.signal)
      .then(
        () => this.#ack(id),
        (error: unknown) =>
          this.#log.warn({ err: error, turnId: job.turnId }, 'turn not ended; left to a reclaimer'),
      )
      .finally(() => this.#finish(id));
  }

  #finish(id: string): void {
    this.#running.delete(id);
    this.#slotFreed?.();
    this.#slotFreed = undefined;
  }

  async #ack(id: string): Promise<void> {
    try {
      await this.#stream.ack(id);
    } catch (error) {
      // Still pending: a reclaimer hands it to onLost, which finds the turn ended.
      this.#log.warn({ err: error, id }, 'could not ack a finished job');
    }
  }

  #onCancel(message: string): void {
    let turnId: unknown;
    try {
      turnId = (JSON.parse(message) as { turnId?: unknown }).turnId;
    } catch (error) {
      this.#log.warn({ err: error }, 'unreadable cancel message');
      return;
    }
    for (const entry of this.#running.values()) {
      if (entry.job.turnId === turnId) entry.controller.abort();
    }
  }

  async #reclaim(): Promise<void> {
    if (this.#reclaiming || this.#stopping) return;
    this.#reclaiming = true;
    try {
      await this.#lost.reclaim();
      // Two passes in a row without a worker: just after an outage, the workers' first
      // heartbeats may not be in yet, and their queued jobs must not be ended for that.
      this.#passesWithoutWorker = (await this.workersAlive()) ? 0 : this.#passesWithoutWorker + 1;
      if (this.#passesWithoutWorker >= 2) await this.#lost.orphans();
    } catch (error) {
      if (String(error).includes('NOGROUP')) this.#group = undefined;
      else this.#log.warn({ err: error }, 'reclaiming jobs failed');
    } finally {
      this.#reclaiming = false;
    }
  }

  async #heartbeat(): Promise<void> {
    if (this.#running.size === 0) return;
    const ids = [...this.#running.keys()];
    try {
      const kept = await this.#stream.touch(this.consumer, ids);
      await Promise.all(
        ids.map(async (id) => {
          const entry = this.#running.get(id);
          if (!entry) return;
          if (!kept.has(id)) {
            // Acked by a reclaimer that took us for dead: the turn was ended; stop running it.
            this.#log.warn({ turnId: entry.job.turnId }, 'job was taken over; stopping it');
            entry.controller.abort();
            return;
          }
          const k = conversationKeys(this.#prefix, entry.job.conversationId);
          const renewed = await RENEW_TURN.run(
            this.#redis,
            [k.running, k.cancelled],
            [entry.job.turnId, this.#o.turnLeaseMs],
          );
          // A cancel the control channel missed (its subscriber was reconnecting).
          if (renewed === 'cancelled' && !entry.controller.signal.aborted) {
            this.#log.info({ turnId: entry.job.turnId }, 'cancel found by the heartbeat');
            entry.controller.abort();
          }
        }),
      );
    } catch (error) {
      this.#log.warn({ err: error }, 'heartbeat failed');
    }
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
