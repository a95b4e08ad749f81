import type { JobQueue, TurnJob } from '../queue/job-queue.ts';
import type { TurnRunner, Turns } from '../turns/turns.ts';

export interface TurnWorkerOptions extends TurnRunner {
  readonly queue: JobQueue;
  readonly turns: Turns;
}

/** Takes turn jobs from the queue and runs each turn, through its owner, in this process. */
export class TurnWorker {
  readonly #options: TurnWorkerOptions;
  readonly #running = new Map<string, Promise<void>>();

  constructor(options: TurnWorkerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#options.queue.consume((job, signal) => this.#track(job, signal));
  }

  /** Turns running in this worker. */
  get runningTurns(): number {
    return this.#running.size;
  }

  #track(job: TurnJob, signal: AbortSignal): Promise<void> {
    const run = this.#options.turns
      .run(job, signal, this.#options)
      .finally(() => this.#running.delete(job.turnId));
    this.#running.set(job.turnId, run);
    return run;
  }
}
