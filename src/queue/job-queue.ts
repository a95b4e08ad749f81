import { z } from 'zod';

/**
 * A turn for a worker to run, as a gateway queued it. The one definition of a job: its type
 * is derived from it, and a job read back from a queue (JSON in Redis) is parsed with it.
 */
export const TurnJob = z
  .object({
    turnId: z.string(),
    conversationId: z.string(),
    userId: z.string(),
    content: z.string(),
    /** Model entry id, as configured. */
    model: z.string(),
    /** Agent id, as configured. */
    agent: z.string(),
    requestId: z.string().optional(),
    /** When the gateway accepted the chat (ISO 8601). */
    acceptedAt: z.string(),
  })
  .readonly();

export type TurnJob = z.infer<typeof TurnJob>;

/**
 * Runs one job; the signal aborts when the turn is cancelled or the worker stops. A handler
 * that rejects could not end its turn: a queue that can, leaves the job for a reclaimer.
 */
export type JobHandler = (job: TurnJob, signal: AbortSignal) => Promise<void>;

/**
 * Ends the turn of a job that will not be run: its worker died (or stalled) and another
 * took the job over, or the job was parked after too many deliveries. A turn is never run
 * twice, since tools may have side effects.
 */
export type LostJobHandler = (job: TurnJob, why: LostReason) => Promise<void>;

/** Why a job will not run: its worker died (or stalled), or no worker is alive to take it. */
export type LostReason = 'worker died' | 'no worker';

/** Turn jobs from gateways to workers, and cancellation of running jobs. */
export interface JobQueue {
  enqueue(job: TurnJob): Promise<void>;
  /** Delivers jobs to `handler` until close. */
  consume(handler: JobHandler): Promise<void>;
  /**
   * Ends the turns of jobs this queue takes over but will not run (their worker died, or
   * they were parked) by calling `onLost`, until close. Every process that shares a queue
   * runs it, gateways included, so that a turn ends even when no worker is left.
   * `onLost` must end the turn if it is still open and may be called again for the same
   * job (it is acknowledged once this resolves). Queues that cannot lose a job (in
   * memory) never call it.
   */
  watchLost(onLost: LostJobHandler): void;
  /**
   * Whether any worker is alive to take jobs (in any process that shares the queue). With
   * none, a chat is refused at once, and queued jobs are ended instead of waiting forever.
   */
  workersAlive(): Promise<boolean>;
  /** Asks whichever worker runs the turn to stop it. */
  cancel(conversationId: string, turnId: string): Promise<void>;
  /**
   * Stops taking jobs, lets running ones finish for a grace period, then aborts the
   * signals of those still running and stops. Idempotent.
   */
  close(): Promise<void>;
}
