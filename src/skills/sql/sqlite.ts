import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SqlBackend } from './backend.ts';
import type { QueryResult, TableDescription, TableSummary } from './format.ts';

const CHILD = fileURLToPath(new URL('./sqlite-child.cjs', import.meta.url));

type Request = { op: 'tables' } | { op: 'describe'; table: string } | { op: 'query'; sql: string };

/** Time a child may take to start, before its request's own time cap begins. */
const STARTUP_MS = 30_000;

type Reply<T> = { ok: true; result: T } | { ok: false; message: string };

/**
 * SQLite through better-sqlite3, one child process per call (sqlite-child.cjs says why):
 * the file is opened read-only by the driver, the call is killed when its time is up, and
 * the event loop here only waits for a message.
 */
export class SqliteBackend implements SqlBackend {
  readonly dialect = 'SQLite';
  readonly #path: string;
  readonly #maxRows: number;
  readonly #timeoutMs: number;
  readonly #running = new Set<ChildProcess>();

  constructor(options: { path: string; maxRows: number; timeoutMs: number }) {
    this.#path = options.path;
    this.#maxRows = options.maxRows;
    this.#timeoutMs = options.timeoutMs;
  }

  listTables(signal?: AbortSignal): Promise<TableSummary[]> {
    return this.#call({ op: 'tables' }, signal);
  }

  describeTable(table: string, signal?: AbortSignal): Promise<TableDescription> {
    return this.#call({ op: 'describe', table }, signal);
  }

  query(sql: string, signal?: AbortSignal): Promise<QueryResult> {
    return this.#call({ op: 'query', sql }, signal);
  }

  async close(): Promise<void> {
    for (const child of this.#running) child.kill('SIGKILL');
    this.#running.clear();
  }

  #call<T>(request: Request, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      signal?.throwIfAborted();
      // No loader flags of this process (tsx, test runners): the child is plain JavaScript.
      const child = fork(CHILD, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
      this.#running.add(child);
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-2000);
      });
      let settled = false;
      const finish = (error: Error | undefined, result?: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#running.delete(child);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (error) reject(error);
        else resolve(result as T);
      };
      const timeout = () =>
        finish(
          new Error(
            `The query took longer than ${this.#timeoutMs} ms (SQL_TIMEOUT_MS) and was stopped. Make it cheaper: filter, aggregate or add LIMIT.`,
          ),
        );
      // The cap counts from the request on: starting a process is not the query's time. A
      // process that does not start within a generous while is given up too.
      let timer = setTimeout(() => finish(new Error('SQLite did not start in time.')), STARTUP_MS);
      const onAbort = () => finish(signal?.reason ?? new Error('Aborted.'));
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('message', (reply: Reply<T> | { ready: true }) => {
        if ('ready' in reply) {
          clearTimeout(timer);
          timer = setTimeout(timeout, this.#timeoutMs);
          child.send({ ...request, path: this.#path, maxRows: this.#maxRows });
        } else if (reply.ok) finish(undefined, reply.result);
        else finish(new Error(`SQLite: ${reply.message}`));
      });
      child.once('error', (error) => finish(new Error(`Cannot run SQLite: ${error.message}`)));
      child.once('exit', (code, killed) =>
        finish(
          new Error(
            `SQLite stopped without an answer (${killed ?? `exit code ${code}`})${stderr ? `: ${stderr.trim()}` : '.'}`,
          ),
        ),
      );
    });
  }
}
