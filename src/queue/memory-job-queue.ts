import type { JobHandler, JobQueue, TurnJob } from './job-queue.ts';

/** The embedded queue: jobs run in this process as soon as they are enqueued. */
export class MemoryJobQueue implements JobQueue {
  #handler: JobHandler | undefined;
  readonly #running = new Map<string, AbortController>();
  #closed = false;

  async enqueue(job: TurnJob): Promise<void> {
    const handler = this.#handler;
    if (!handler || this.#closed) throw new Error('No worker consumes the in-memory queue.');
    const controller = new AbortController();
    this.#running.set(job.turnId, controller);
    void handler(job, controller.signal).finally(() => this.#running.delete(job.turnId));
  }

  async consume(handler: JobHandler): Promise<void> {
    this.#handler = handler;
  }

  async cancel(_conversationId: string, turnId: string): Promise<void> {
    this.#running.get(turnId)?.abort();
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    for (const controller of this.#running.values()) controller.abort();
  }
}
