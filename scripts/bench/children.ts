/**
 * The benchmark's child processes: each is `node` itself (no npm or shell in between, so
 * the measured process tree is the program and nothing else), its output kept for when it
 * fails, and a message channel to the ones that are the benchmark's own scripts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: every child runs here, as `npm start` would. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const OUTPUT_LINES = 40;
const living = new Set<Child>();

/** A message between the benchmark and one of its scripts. */
export interface Message {
  type: string;
  [key: string]: unknown;
}

/** A child process; see the module comment. */
export class Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly #output: string[] = [];

  constructor(name: string, entry: string, args: string[], env: NodeJS.ProcessEnv, ipc: boolean) {
    this.name = name;
    this.process = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: ROOT,
      env,
      stdio: ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.#output.push(...chunk.split('\n').filter(Boolean));
        this.#output.splice(0, Math.max(0, this.#output.length - OUTPUT_LINES));
      });
    }
    living.add(this);
    this.exited = new Promise((resolve) =>
      this.process.once('exit', (code) => {
        living.delete(this);
        resolve(code);
      }),
    );
  }

  get pid(): number {
    const { pid } = this.process;
    if (pid === undefined) throw new Error(`${this.name} did not start`);
    return pid;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** The last lines it wrote, for an error message. */
  tail(): string {
    return this.#output.length
      ? `last output of ${this.name}:\n  ${this.#output.join('\n  ')}`
      : `${this.name} wrote nothing`;
  }

  send(message: Message): void {
    if (this.process.connected) this.process.send(message);
  }

  /** The next message of this type; fails if the process exits or `timeoutMs` passes first. */
  next(type: string, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const onMessage = (message: Message) => {
        if (message?.type !== type) return;
        done();
        resolve(message);
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(
          new Error(`${this.name} exited (${signal ?? code}) before "${type}".\n${this.tail()}`),
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms.\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
      };
      if (!this.running) {
        done();
        reject(new Error(`${this.name} is not running.\n${this.tail()}`));
        return;
      }
      this.process.on('message', onMessage);
      this.process.once('exit', onExit);
    });
  }

  /** SIGTERM, then SIGKILL if it has not gone after `graceMs`. Idempotent. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** One of the benchmark's own scripts (scripts/bench/*.ts), with a message channel. */
export function startScript(name: string, script: string, config: unknown): Child {
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  return new Child(name, `scripts/bench/${script}`, [JSON.stringify(config)], env, true);
}

/** An agentgate process (`src/server.ts` or `src/worker.ts`) with exactly this environment. */
export function startAgentgate(name: string, entry: string, env: NodeJS.ProcessEnv): Child {
  return new Child(name, entry, [], env, false);
}

/** Kills every child still alive, at once: for an exit that cannot wait. */
export function killAll(): void {
  for (const child of living) child.process.kill('SIGKILL');
}

/** A port that was free a moment ago (the OS hands out a fresh one each time). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` every 100 ms until it is true; fails with `what` after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
