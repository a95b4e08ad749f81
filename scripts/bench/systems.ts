/**
 * The systems under test, each started as real processes against a given emulator: the
 * floor (scripts/bench/floor.ts), agentgate embedded (`src/server.ts`, worker inside), and
 * agentgate on Redis (`src/server.ts` with RUN_WORKER=false plus `src/worker.ts` processes).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { CONFIG_VARIABLES } from '../../src/config/config.ts';
import type { BenchShape } from '../../test/emulator/index.ts';
import { type Child, freePort, startAgentgate, startScript, until } from './children.ts';
import type { SystemName } from './options.ts';

/** How long a process may take to start: several at once on a busy machine take minutes. */
const START_TIMEOUT_MS = 180_000;

/** A system, started and ready for clients. */
export interface RunningSystem {
  readonly name: SystemName;
  readonly wsUrl: string;
  /** The processes measured as the server (each with its descendants). */
  readonly servers: readonly Child[];
  /** The redis system's Redis connection, for its CPU (`INFO cpu`); undefined otherwise. */
  readonly redis: Redis | undefined;
  stop(): Promise<void>;
}

/** A running bench emulator (scripts/bench/emulator-process.ts). */
export interface RunningEmulator {
  readonly url: string;
  readonly child: Child;
}

/** The emulator on `port` (picked beforehand, so that a system can start alongside it). */
export async function startBenchEmulator(
  shape: BenchShape,
  port: number,
): Promise<RunningEmulator> {
  const child = startScript('emulator', 'emulator-process.ts', { port, ...shape });
  try {
    const { url } = await child.next('listening', START_TIMEOUT_MS);
    return { url: String(url), child };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

/**
 * An agentgate environment with nothing from the caller's: every variable agentgate reads
 * is set, blank when unused, so a `.env` in the repository cannot change what is measured.
 */
function agentgateEnv(emulatorUrl: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const blank = Object.fromEntries(CONFIG_VARIABLES.map((name) => [name, '']));
  return {
    ...blank,
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulatorUrl,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    LOG_LEVEL: 'warn',
    // Every bench client is the one user "anonymous": lift the per-user limits.
    MAX_SOCKETS_PER_USER: '1000000',
    MAX_TURNS_PER_USER: '1000000',
    ...extra,
  };
}

async function healthy(url: string, child: Child, path = '/health'): Promise<void> {
  await until(
    async () => {
      if (!child.running) throw new Error(`${child.name} exited.\n${child.tail()}`);
      return fetch(`${url}${path}`).then(
        (response) => response.ok,
        () => false,
      );
    },
    START_TIMEOUT_MS,
    `${child.name} answering ${path}`,
  );
}

async function startFloor(emulatorUrl: string): Promise<RunningSystem> {
  const child = startScript('floor', 'floor.ts', { emulatorUrl });
  const { url } = await child.next('listening', START_TIMEOUT_MS);
  return {
    name: 'floor',
    wsUrl: String(url),
    servers: [child],
    redis: undefined,
    stop: () => child.stop(),
  };
}

async function startEmbedded(emulatorUrl: string): Promise<RunningSystem> {
  const port = await freePort();
  const child = startAgentgate(
    'agentgate',
    'src/server.ts',
    agentgateEnv(emulatorUrl, { PORT: String(port) }),
  );
  try {
    await healthy(`http://127.0.0.1:${port}`, child);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return {
    name: 'embedded',
    wsUrl: `ws://127.0.0.1:${port}/v1/ws`,
    servers: [child],
    redis: undefined,
    stop: () => child.stop(),
  };
}

/** Deletes the run's keys: it shares the Redis with whatever else uses it. */
async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function startRedisSystem(
  emulatorUrl: string,
  redisUrl: string,
  workers: number,
): Promise<RunningSystem> {
  const prefix = `agentgate-bench-${randomBytes(4).toString('hex')}:`;
  const shared = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix };
  const port = await freePort();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  const children: Child[] = [];
  const stop = async () => {
    await Promise.all(children.map((child) => child.stop()));
    await deletePrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
  };
  try {
    for (let i = 0; i < workers; i++) {
      const env = agentgateEnv(emulatorUrl, { ...shared, WORKER_METRICS_PORT: '0' });
      children.push(startAgentgate(`worker ${i + 1}`, 'src/worker.ts', env));
    }
    const gateway = startAgentgate(
      'gateway',
      'src/server.ts',
      agentgateEnv(emulatorUrl, { ...shared, RUN_WORKER: 'false', PORT: String(port) }),
    );
    children.unshift(gateway);
    for (const worker of children.slice(1)) {
      // A worker reads jobs once its reader connection shows in CLIENT LIST.
      await until(
        async () => {
          if (!worker.running) throw new Error(`${worker.name} exited.\n${worker.tail()}`);
          const list = String(await redis.call('CLIENT', 'LIST'));
          return list.includes(` name=agentgate-${worker.pid}-jobs `);
        },
        START_TIMEOUT_MS,
        `${worker.name} reading jobs`,
      );
    }
    // Ready: Redis answers and a worker is alive.
    await healthy(`http://127.0.0.1:${port}`, gateway, '/ready');
  } catch (error) {
    await stop();
    throw error;
  }
  return { name: 'redis', wsUrl: `ws://127.0.0.1:${port}/v1/ws`, servers: children, redis, stop };
}

export interface SystemSettings {
  readonly redisUrl: string;
  readonly workers: number;
}

/** Starts a system against the emulator at `emulatorUrl`; resolves once it takes clients. */
export function startSystem(
  name: SystemName,
  emulatorUrl: string,
  settings: SystemSettings,
): Promise<RunningSystem> {
  switch (name) {
    case 'floor':
      return startFloor(emulatorUrl);
    case 'embedded':
      return startEmbedded(emulatorUrl);
    case 'redis':
      return startRedisSystem(emulatorUrl, settings.redisUrl, settings.workers);
  }
}

/** Redis's own CPU time so far (`INFO cpu`: used_cpu_user + used_cpu_sys), in ms. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) =>
    Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}

/** Whether Redis answers at `url`; the reason when it does not. */
export async function redisProblem(url: string): Promise<string | undefined> {
  const redis = new Redis(url, {
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 3_000,
    lazyConnect: true,
  });
  redis.on('error', () => {}); // the failure is returned below
  try {
    await redis.connect();
    await redis.ping();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    redis.disconnect();
  }
}
