export interface TurnJob {
  readonly turnId: string;
  readonly conversationId: string;
  readonly userId: string;
  readonly content: string;
  /** Model entry id, as configured. */
  readonly model: string;
  readonly requestId?: string;
  readonly acceptedAt: string;
}

/** Runs one job; the signal aborts when the turn is cancelled or the worker stops. */
export type JobHandler = (job: TurnJob, signal: AbortSignal) => Promise<void>;

/**
 * Ends the turn of a job that will not be run: its worker died (or stalled) and another
 * took the job over, or the job was parked after too many deliveries. A turn is never run
 * twice, since tools may have side effects.
 */
export type LostJobHandler = (job: TurnJob) => Promise<void>;

export interface ConsumeOptions {
  /**
   * Called for each job this queue takes over but will not run. It must end the turn if
   * the turn is still open and may be called again for the same job (it is acknowledged
   * once this resolves). Queues that cannot lose a job (in memory) never call it.
   */
  readonly onLost?: LostJobHandler;
}

/** Turn jobs from gateways to workers, and cancellation of running jobs. */
export interface JobQueue {
  enqueue(job: TurnJob): Promise<void>;
  /** Delivers jobs to `handler` until close. */
  consume(handler: JobHandler, options?: ConsumeOptions): Promise<void>;
  /** Asks whichever worker runs the turn to stop it. */
  cancel(conversationId: string, turnId: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
