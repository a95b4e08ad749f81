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

/** Turn jobs from gateways to workers, and cancellation of running jobs. */
export interface JobQueue {
  enqueue(job: TurnJob): Promise<void>;
  /** Delivers jobs to `handler` until close. */
  consume(handler: JobHandler): Promise<void>;
  /** Asks whichever worker runs the turn to stop it. */
  cancel(conversationId: string, turnId: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
