import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, onTestFailed } from 'vitest';
import { freePort } from '../../scripts/bench/children.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { adminRedis, deletePrefix, eventually, REDIS_URL, testPrefix } from './fixture.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export { freePort };

/** A child process of the test, with its output kept for when a test fails. */
export class Child {
  readonly process: ChildProcess;
  readonly name: string;
  readonly output: string[] = [];
  readonly exited: Promise<number | null>;

  constructor(name: string, command: string, args: string[], env: Record<string, string>) {
    this.name = name;
    this.process = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream?.on('data', (chunk: Buffer) => this.output.push(String(chunk)));
    }
    this.exited = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. Idempotent. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Dies at once, as on a crash or an OOM kill. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /** The output so far, for failure messages. */
  log(): string {
    return `--- ${this.name} (pid ${this.pid}) ---\n${this.output.join('')}`;
  }
}

/** Environment of a gateway or worker process: the emulator as Bedrock, fake keys. */
export function processEnv(emulator: Emulator, redisUrl: string, prefix: string, extra = {}) {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'AKIDREDISTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    BEDROCK_MAX_ATTEMPTS: '1',
    LOG_LEVEL: process.env.TEST_CHILD_LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

const tsx = (entry: string) => ['--import', 'tsx', entry];

export interface GatewayProcess extends Child {
  readonly url: string;
  readonly wsUrl: string;
}

/** `tsx src/server.ts` with RUN_WORKER=false on a free port; resolves once /health answers. */
export async function startGatewayProcess(
  name: string,
  env: Record<string, string>,
): Promise<GatewayProcess> {
  const port = await freePort();
  const child = new Child(name, process.execPath, tsx('src/server.ts'), {
    RUN_WORKER: 'false',
    ...env,
    PORT: String(port),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(
      async () => {
        if (!child.running) throw new Error(`${name} exited\n${child.log()}`);
        return fetch(`${url}/health`).then(
          (r) => r.ok,
          () => false,
        );
      },
      30_000,
      `${name} listening`,
    );
  } catch (error) {
    // Not left running behind the failed test (a slow machine gets slower with each one).
    await child.kill();
    throw error;
  }
  return Object.assign(child, { url, wsUrl: `ws://127.0.0.1:${port}/v1/ws` });
}

export interface WorkerProcess extends Child {
  /** Its metrics listener (WORKER_METRICS_PORT): `/metrics`, `/health`, `/ready`. */
  readonly metricsUrl: string;
}

/**
 * `tsx src/worker.ts` with its metrics listener on a free port (so that workers of tests
 * running at once do not share the default); resolves once it reads jobs (its connection
 * shows in CLIENT LIST).
 */
export async function startWorkerProcess(
  name: string,
  env: Record<string, string>,
  redisUrl: string,
): Promise<WorkerProcess> {
  const port = await freePort();
  const child = new Child(name, process.execPath, tsx('src/worker.ts'), {
    ...env,
    WORKER_METRICS_PORT: String(port),
  });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    await eventually(
      async () => {
        if (!child.running) throw new Error(`${name} exited\n${child.log()}`);
        const list = (await redis.call('CLIENT', 'LIST')) as string;
        return list.includes(` name=agentgate-${child.pid}-jobs `);
      },
      30_000,
      `${name} reading jobs`,
    );
  } catch (error) {
    await child.kill();
    throw error;
  } finally {
    redis.disconnect();
  }
  return Object.assign(child, { metricsUrl: `http://127.0.0.1:${port}` });
}

/** A redis-server of the test's own, which it can stop and start again with its data. */
export class OwnRedis {
  readonly port: number;
  readonly url: string;
  readonly #dir = mkdtempSync(path.join(tmpdir(), 'agentgate-redis-'));
  #server: Child | undefined;

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  /** Starts the server (again), loading what it saved when it stopped. */
  async restart(): Promise<void> {
    this.#server = new Child(
      'redis-server',
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.#dir,
      ],
      { PATH: process.env.PATH ?? '' },
    );
    const probe = new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    // Refused connections are expected until the server listens; ping() says when it does.
    probe.on('error', () => {});
    try {
      await eventually(
        () =>
          probe.ping().then(
            () => true,
            () => false,
          ),
        10_000,
        'redis-server up',
      );
    } finally {
      probe.disconnect();
    }
  }

  /**
   * SHUTDOWN SAVE: the data is kept on disk, as a Redis with persistence keeps it; with
   * `keepData: false`, SHUTDOWN NOSAVE and the dump removed, as a Redis without it loses it.
   */
  async stop({ keepData = true } = {}): Promise<void> {
    const server = this.#server;
    if (!server?.running) return;
    const admin = new Redis(this.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
    admin.on('error', () => {}); // it reconnects to a server that is going: expected to fail
    // The server closes the connection as it goes: no reply is the expected answer.
    await admin.call('SHUTDOWN', keepData ? 'SAVE' : 'NOSAVE').catch(() => undefined);
    if (!keepData) rmSync(path.join(this.#dir, 'dump.rdb'), { force: true });
    admin.disconnect();
    await server.exited;
  }

  /** Stops the server answering without closing its connections, as a hung host would. */
  freeze(): void {
    this.#server?.process.kill('SIGSTOP');
  }

  thaw(): void {
    this.#server?.process.kill('SIGCONT');
  }

  async close(): Promise<void> {
    this.thaw();
    await this.#server?.kill();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/**
 * What a multi-process test stands on: the emulator, a Redis (the shared one under a key
 * prefix of its own, or with `ownRedis` a redis-server the test may stop, freeze or empty),
 * an admin connection to it, and every process it starts through the rig. Set up before
 * the file's tests and torn down after them.
 */
export class ProcessRig {
  emulator!: Emulator;
  admin!: Redis;
  redisUrl = REDIS_URL;
  /** The rig's own redis-server, with `ownRedis`. */
  redis: OwnRedis | undefined;
  /** Environment of every process the rig starts. */
  env: Record<string, string> = {};
  readonly #children: Child[] = [];
  /** Processes still starting: stop() waits for them, so none outlives the rig. */
  readonly #starting = new Set<Promise<unknown>>();
  #prefix = testPrefix();

  get prefix(): string {
    return this.#prefix;
  }

  async start(options: { ownRedis?: boolean; env?: Record<string, string> }): Promise<void> {
    this.emulator = await startEmulator({ paceMs: 0 });
    if (options.ownRedis) {
      this.redis = await OwnRedis.start();
      this.redisUrl = this.redis.url;
      this.admin = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
      this.admin.on('error', () => {}); // the test stops this Redis on purpose
    } else {
      this.admin = adminRedis();
    }
    this.env = processEnv(this.emulator, this.redisUrl, this.#prefix, options.env);
  }

  /** A gateway process (RUN_WORKER=false), stopped with the rig. */
  async gateway(name: string): Promise<GatewayProcess> {
    return this.#keep(startGatewayProcess(name, this.env));
  }

  /** A worker process, stopped with the rig. */
  async worker(name: string): Promise<Child> {
    return this.#keep(startWorkerProcess(name, this.env, this.redisUrl));
  }

  /** Prints the output of every process the rig started if the current test fails. */
  showLogsOnFailure(): void {
    onTestFailed(() => {
      for (const child of this.#children) console.error(child.log());
    });
  }

  async stop(): Promise<void> {
    // A start that failed killed its own process; one still going is stopped once it is up.
    await Promise.allSettled(this.#starting);
    await Promise.all(this.#children.map((c) => c.stop()));
    await this.emulator?.close();
    if (!this.redis && this.admin) await deletePrefix(this.admin, this.#prefix);
    this.admin?.disconnect();
    await this.redis?.close();
  }

  /** Keeps the child once it is up, so that stop() stops it, even if it comes up late. */
  async #keep<T extends Child>(starting: Promise<T>): Promise<T> {
    const kept = starting.then((child) => {
      this.#children.push(child);
      return child;
    });
    this.#starting.add(kept);
    try {
      return await kept;
    } finally {
      this.#starting.delete(kept);
    }
  }
}

/** A ProcessRig set up before the file's tests and torn down after them. */
export function useProcessRig(
  options: { ownRedis?: boolean; env?: Record<string, string> } = {},
): ProcessRig {
  const rig = new ProcessRig();
  beforeAll(() => rig.start(options), 60_000);
  afterAll(() => rig.stop(), 30_000);
  return rig;
}
