import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What a user's shell would hand npm: PATH and HOME, no test settings leaking in. */
export function npmEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    npm_config_update_notifier: 'false',
    ...env,
  };
}

/**
 * `npm <args>` in the repository, as a user runs it, in a process group of its own so that
 * a test can tell whether any process of the tree is left and kill what is.
 */
export class NpmScript {
  readonly process: ChildProcess;
  /** npm itself has exited (processes it left behind may still hold its output open). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** npm has exited and its output is complete. */
  readonly closed: Promise<void>;
  stdout = '';
  stderr = '';

  constructor(args: string[], env: Record<string, string>) {
    this.process = spawn('npm', args, {
      cwd: ROOT,
      env: npmEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.process.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
    });
    this.process.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) =>
      this.process.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.closed = new Promise((resolve) => this.process.once('close', () => resolve()));
  }

  /** Everything npm and the script wrote so far, stdout then stderr. */
  get output(): string {
    return `${this.stdout}${this.stderr}`;
  }

  get pid(): number {
    const { pid } = this.process;
    if (pid === undefined) throw new Error('npm did not start');
    return pid;
  }

  /** Whether any process of npm's group (npm, sh, node, …) is still alive. */
  groupAlive(): boolean {
    try {
      process.kill(-this.pid, 0);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  }

  /** Resolves once the output contains `text`; fails with the output after `ms`. */
  async waitFor(text: string, ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    while (!this.output.includes(text)) {
      if (Date.now() > until) throw new Error(`no "${text}" within ${ms} ms:\n${this.output}`);
      if (this.process.exitCode !== null) throw new Error(`npm exited:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills whatever is left of the group. Idempotent. */
  kill(): void {
    if (this.groupAlive()) process.kill(-this.pid, 'SIGKILL');
  }
}

/** Whether something accepts connections on the loopback port. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Holds a loopback port, as another program would, until the returned close is called. */
export async function occupyPort(): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
