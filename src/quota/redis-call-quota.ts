import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisConnections } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import {
  checkPrefix,
  DEFAULT_KEY_PREFIX,
  type QuotaKeys,
  quotaChannel,
  quotaKeys,
} from '../redis/keys.ts';
import { ADMIT_CALLS, RELEASE_CALL, RENEW_CALLS, THROTTLE_CALLS } from '../redis/scripts.ts';
import {
  type CallQuota,
  type CallQuotaOptions,
  checkMax,
  closedError,
  DEFAULT_HALVE_EVERY_MS,
  DEFAULT_LOWER_FOR_MS,
  type QuotaLease,
} from './call-quota.ts';
import { Waiter } from './waiter.ts';

export const DEFAULT_QUOTA_LEASE_MS = 30_000;
export const DEFAULT_QUOTA_POLL_MS = 250;

/**
 * Polls a waiting call may miss (a busy event loop, a slow Redis) before other processes
 * count it as gone and drop it from the queue; asking again later, it queues anew.
 */
const WAITER_POLLS = 8;

export interface RedisCallQuotaOptions extends CallQuotaOptions {
  /** Scripts go on the shared connection; the quota opens a subscriber of its own. */
  readonly connections: RedisConnections;
  readonly log: Logger;
  readonly prefix?: string;
  /** How long a slot stays held unless renewed (ms): a dead process's slots come back. */
  readonly leaseMs?: number;
  /** How often waiting calls ask again without being woken (ms). */
  readonly pollMs?: number;
}

/** This process's waiting calls of one key, each with its id, in arrival order. */
interface Queue {
  readonly keys: QuotaKeys;
  readonly waiters: Map<Waiter, string>;
  /** A request for slots is on its way; `again` asks for one more once it returns. */
  asking: boolean;
  again: boolean;
}

/**
 * The bound shared by every process on one Redis: a semaphore of sorted sets per key (see
 * ADMIT_CALLS). Holders keep their slots by renewing a lease, so a dead process's slots
 * come back after `leaseMs`. Waiting calls hold tickets, and are admitted in ticket order
 * across processes; a process asks for all its waiting calls of a key in one script run,
 * when a slot is announced free on the channel (RELEASE_CALL), and every `pollMs` in case
 * an announcement was missed or a lease lapsed (which nobody announces). Asking also keeps
 * the calls alive in the queue: calls of a dead process leave it after a few polls.
 */
export class RedisCallQuota implements CallQuota {
  readonly #connections: RedisConnections;
  readonly #redis: Redis;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #channel: string;
  readonly #max: number;
  readonly #lowerForMs: number;
  readonly #halveEveryMs: number;
  readonly #leaseMs: number;
  readonly #waiterMs: number;
  /** Ids of this process's calls: unique across processes. */
  readonly #instance = randomBytes(6).toString('hex');
  #calls = 0;
  readonly #queues = new Map<string, Queue>();
  /** Slots held in this process, to renew: call id → key. */
  readonly #held = new Map<string, string>();
  readonly #timers: NodeJS.Timeout[];
  #subscriber: Redis | undefined;
  #closed: Promise<void> | undefined;

  constructor(options: RedisCallQuotaOptions) {
    this.#connections = options.connections;
    this.#redis = options.connections.command;
    this.#log = options.log.child({ component: 'call-quota' });
    this.#prefix = checkPrefix(options.prefix ?? DEFAULT_KEY_PREFIX);
    this.#channel = quotaChannel(this.#prefix);
    this.#max = checkMax(options.max);
    this.#lowerForMs = options.lowerForMs ?? DEFAULT_LOWER_FOR_MS;
    this.#halveEveryMs = options.halveEveryMs ?? DEFAULT_HALVE_EVERY_MS;
    this.#leaseMs = options.leaseMs ?? DEFAULT_QUOTA_LEASE_MS;
    const pollMs = options.pollMs ?? DEFAULT_QUOTA_POLL_MS;
    this.#waiterMs = WAITER_POLLS * pollMs;
    this.#timers = [
      setInterval(() => {
        for (const key of this.#queues.keys()) void this.#ask(key);
      }, pollMs),
      setInterval(() => void this.#renew(), Math.max(1, Math.floor(this.#leaseMs / 3))),
    ];
    for (const timer of this.#timers) timer.unref();
  }

  async acquire(key: string, signal?: AbortSignal): Promise<QuotaLease> {
    if (this.#closed) throw closedError();
    this.#listen();
    const id = `${this.#instance}:${++this.#calls}`;
    const waiter = new Waiter(signal, (gone) => {
      this.#queues.get(key)?.waiters.delete(gone);
      void this.#free(key, id);
    });
    if (!waiter.waiting) return waiter.promise;
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = {
        keys: quotaKeys(this.#prefix, key),
        waiters: new Map(),
        asking: false,
        again: false,
      };
      this.#queues.set(key, queue);
    }
    queue.waiters.set(waiter, id);
    void this.#ask(key);
    return waiter.promise;
  }

  async throttled(key: string): Promise<number> {
    const bound = await redisCall('lower a model call bound', () =>
      THROTTLE_CALLS.run(
        this.#redis,
        [quotaKeys(this.#prefix, key).lowered, quotaKeys(this.#prefix, key).halved],
        [this.#max, this.#lowerForMs, this.#halveEveryMs],
      ),
    );
    return Number(bound);
  }

  async limit(key: string): Promise<number> {
    const lowered = await redisCall('read a model call bound', () =>
      this.#redis.get(quotaKeys(this.#prefix, key).lowered),
    );
    return lowered === null ? this.#max : Math.min(Number(lowered), this.#max);
  }

  /**
   * Waiting calls reject and leave the queue; slots still held are no longer renewed (a
   * call that ends after this still releases its slot, while the connection is open).
   */
  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    const leaving: Promise<void>[] = [];
    for (const [key, queue] of this.#queues) {
      for (const [waiter, id] of queue.waiters) {
        waiter.fail(closedError());
        leaving.push(this.#free(key, id));
      }
    }
    this.#queues.clear();
    this.#held.clear();
    await Promise.all(leaving);
    this.#subscriber?.disconnect(false);
  }

  /** Subscribes to the channel of freed slots, once; again after every reconnect. */
  #listen(): void {
    if (this.#subscriber) return;
    const subscriber = this.#connections.open('subscriber', 'quota');
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, key: string) => void this.#ask(key));
    subscriber.on('ready', () => {
      subscriber
        .subscribe(this.#channel)
        .catch((error: unknown) => this.#log.warn({ err: error }, 'quota subscribe failed'));
      // Slots freed while it was away were announced to nobody.
      for (const key of this.#queues.keys()) void this.#ask(key);
    });
  }

  /** Asks for slots for this process's waiting calls of `key`, one request at a time. */
  async #ask(key: string): Promise<void> {
    const queue = this.#queues.get(key);
    if (!queue) return;
    if (queue.asking) {
      queue.again = true;
      return;
    }
    queue.asking = true;
    try {
      do {
        queue.again = false;
        await this.#admit(key, queue, [...queue.waiters]);
      } while (queue.again && queue.waiters.size > 0);
    } finally {
      queue.asking = false;
      if (queue.waiters.size === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
    }
  }

  async #admit(key: string, queue: Queue, calls: [Waiter, string][]): Promise<void> {
    if (calls.length === 0) return;
    for (const [waiter] of calls) waiter.tries += 1;
    const k = queue.keys;
    let admitted: number[];
    try {
      admitted = (await redisCall('wait for a model call slot', () =>
        ADMIT_CALLS.run(
          this.#redis,
          [k.holders, k.waiters, k.alive, k.ticket, k.lowered],
          [this.#max, this.#leaseMs, this.#waiterMs, ...calls.map(([, id]) => id)],
        ),
      )) as number[];
    } catch (error) {
      for (const [waiter, id] of calls) {
        if (!waiter.waiting) continue;
        queue.waiters.delete(waiter);
        waiter.fail(error);
        // Its request may have got through with the reply lost: a slot held, or a place.
        void this.#free(key, id);
      }
      return;
    }
    calls.forEach(([waiter, id], i) => {
      // One that stopped waiting meanwhile has its slot freed by its #free, sent after this.
      if (admitted[i] !== 1 || !waiter.waiting) return;
      queue.waiters.delete(waiter);
      this.#held.set(id, key);
      waiter.admit(() => {
        this.#held.delete(id);
        return this.#free(key, id);
      }, waiter.tries > 1);
    });
  }

  /**
   * Gives back call `id`'s slot or its place in the queue, then asks for this process's
   * waiting calls. Never rejects: what it fails to free lapses by itself.
   */
  async #free(key: string, id: string): Promise<void> {
    const k = quotaKeys(this.#prefix, key);
    try {
      await RELEASE_CALL.run(
        this.#redis,
        [k.holders, k.waiters, k.alive, k.ticket],
        [id, this.#channel, key],
      );
    } catch (error) {
      this.#log.warn({ err: error, key }, 'could not free a model call slot; it lapses by itself');
    }
    void this.#ask(key);
  }

  /** Renews the leases of the slots this process holds, one script run per key. */
  async #renew(): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const [id, key] of this.#held) byKey.set(key, [...(byKey.get(key) ?? []), id]);
    for (const [key, ids] of byKey) {
      try {
        const renewed = (await RENEW_CALLS.run(
          this.#redis,
          [quotaKeys(this.#prefix, key).holders],
          [this.#leaseMs, ...ids],
        )) as number[];
        ids.forEach((id, i) => {
          if (renewed[i] === 1) return;
          this.#held.delete(id);
          this.#log.warn({ key }, 'a model call outlived its lease; its slot went back');
        });
      } catch (error) {
        this.#log.warn({ err: error, key }, 'could not renew model call slots');
      }
    }
  }
}
