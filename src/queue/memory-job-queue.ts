import { setTimeout as sleep } from 'node:timers/promises';
import type { JobHandler, JobQueue, TurnJob } from './job-queue.ts';

/** After the grace, how long aborted jobs get to publish their last frames. */
const SETTLE_MS = 2_000;

interface Running {
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

/** The embedded queue: jobs run in this process as soon as they are enqueued. */
export class MemoryJobQueue implements JobQueue {
  #handler: JobHandler | undefined;
  readonly #running = new Map<string, Running>();
  readonly #closeGraceMs: number;
  #closed: Promise<void> | undefined;

  /** `closeGraceMs`: on close, how long running jobs may take before they are aborted. */
  constructor(options: { closeGraceMs?: number } = {}) {
    this.#closeGraceMs = options.closeGraceMs ?? 10_000;
  }

  async enqueue(job: TurnJob): Promise<void> {
    const handler = this.#handler;
    if (!handler || this.#closed) throw new Error('No worker consumes the in-memory queue.');
    const controller = new AbortController();
    const done = handler(job, controller.signal)
      .catch(() => undefined)
      .finally(() => this.#running.delete(job.turnId));
    this.#running.set(job.turnId, { controller, done });
  }

  async consume(handler: JobHandler): Promise<void> {
    this.#handler = handler;
  }

  async workersAlive(): Promise<boolean> {
    return this.#handler !== undefined && this.#closed === undefined;
  }

  /** Jobs in memory die with the process that runs them: none is ever lost to another. */
  watchLost(): void {}

  async cancel(_conversationId: string, turnId: string): Promise<void> {
    this.#running.get(turnId)?.controller.abort();
  }

  close(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    await settle(this.#running, this.#closeGraceMs);
    for (const { controller } of this.#running.values()) controller.abort();
    await settle(this.#running, SETTLE_MS);
  }
}

async function settle(running: Map<string, Running>, ms: number): Promise<void> {
  if (running.size === 0) return;
  await Promise.race([
    Promise.allSettled([...running.values()].map((r) => r.done)),
    sleep(ms, undefined, { ref: false }),
  ]);
}
