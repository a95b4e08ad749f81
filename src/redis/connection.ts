import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * What a connection is for. Commands share one connection; a subscriber or a blocking
 * reader (XREADGROUP BLOCK) each needs its own, since either holds its connection.
 */
type ConnectionRole = 'command' | 'subscriber' | 'blocking';

/** How long a command may wait for its reply before it fails (a hung Redis). */
const COMMAND_TIMEOUT_MS = 3_000;

function optionsFor(role: ConnectionRole, name: string): RedisOptions {
  return {
    connectionName: name,
    connectTimeout: 2_000,
    // Fail fast while Redis is away instead of queueing commands and hanging callers;
    // ioredis keeps reconnecting on its own (backoff up to 2 s).
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2_000),
    // A blocking read waits longer than any timeout on purpose.
    // Commands issued in one tick (frames of many turns) leave in one write.
    ...(role === 'command'
      ? { commandTimeout: COMMAND_TIMEOUT_MS, enableAutoPipelining: true }
      : {}),
    // The frame bus resubscribes itself, so that it can catch up from the log in order.
    ...(role === 'subscriber' ? { autoResubscribe: false } : {}),
  };
}

/**
 * The Redis connections of one process: one shared command connection, plus dedicated
 * connections opened by the bus (subscriber) and the queue (subscriber, blocking reader).
 * Every connection logs its errors instead of crashing and reconnects by itself.
 */
export class RedisConnections {
  readonly command: Redis;
  readonly #url: string;
  readonly #log: Logger;
  readonly #name: string;
  readonly #all = new Set<Redis>();
  #closing = false;
  #closed: Promise<void> | undefined;

  /** `name` starts every connection's CLIENT SETNAME, to tell them apart in CLIENT LIST. */
  constructor(options: { url: string; log: Logger; name?: string }) {
    this.#url = options.url;
    this.#log = options.log.child({ component: 'redis' });
    this.#name = options.name ?? 'agentgate';
    this.command = this.open('command', 'commands');
  }

  /** Opens a connection for `role`, named `<name>-<purpose>`; {@link close} closes it. */
  open(role: ConnectionRole, purpose: string = role): Redis {
    if (this.#closed) throw new Error('Redis connections are closed.');
    const name = `${this.#name}-${purpose}`;
    const redis = new Redis(this.#url, optionsFor(role, name));
    watch(redis, this.#log.child({ connection: name }), () => this.#closing);
    this.#all.add(redis);
    redis.once('end', () => this.#all.delete(redis));
    return redis;
  }

  /** Resolves once the command connection is up; rejects after `timeoutMs`. */
  ready(timeoutMs: number): Promise<void> {
    return whenReady(this.command, timeoutMs);
  }

  /** Throws unless Redis answers PING within `timeoutMs`. */
  async ping(timeoutMs = 1_000): Promise<void> {
    await withTimeout(this.command.ping(), timeoutMs, 'Redis did not answer PING');
  }

  /** Closes every connection still open. Idempotent. */
  close(): Promise<void> {
    this.#closing = true;
    this.#closed ??= Promise.all([...this.#all].map((redis) => disconnect(redis))).then(() => {});
    return this.#closed;
  }
}

// One pending 'ready' wait per connection, however many callers wait on it.
const readiness = new WeakMap<Redis, Promise<void>>();

/** Resolves when `redis` is ready to take commands; rejects after `timeoutMs`. */
export function whenReady(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  let ready = readiness.get(redis);
  if (!ready) {
    ready = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    readiness.set(redis, ready);
    void ready.then(() => readiness.delete(redis));
  }
  return withTimeout(ready, timeoutMs, `Redis connection not ready (${redis.status})`);
}

/** Closes a connection: QUIT when it is up (replies already sent arrive), else at once. */
async function disconnect(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  if (redis.status === 'ready') {
    try {
      await withTimeout(redis.quit(), 1_000, 'QUIT timed out');
      return;
    } catch {
      // Fall through: the connection is dropped below either way.
    }
  }
  redis.disconnect(false);
}

function watch(redis: Redis, log: Logger, closing: () => boolean): void {
  // One warning per outage, not one per reconnect attempt.
  let down = false;
  redis.on('error', (error: Error) => {
    // A connection closed while it was still connecting fails its handshake: no outage.
    if (closing()) log.debug({ err: error }, 'redis connection error while closing');
    else if (down) log.debug({ err: error }, 'redis connection error');
    else log.warn({ err: error }, 'redis connection error; reconnecting');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.warn('redis connection restored');
    down = false;
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms.`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
