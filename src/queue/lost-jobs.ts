import type { Logger } from 'pino';
import type { JobStream } from '../redis/job-stream.ts';
import { fieldOf, parseJob } from '../redis/stream-reply.ts';
import type { LostJobHandler, LostReason, TurnJob } from './job-queue.ts';

export interface LostJobsOptions {
  readonly stream: JobStream;
  /** This process's consumer name: reclaimed entries become its own. */
  readonly consumer: string;
  readonly idleMs: number;
  readonly maxDeliveries: number;
  /** Who ends lost turns; while nobody does (not watching), lost jobs stay pending. */
  readonly onLost: () => LostJobHandler | undefined;
  /** True for an entry this process runs right now (its heartbeat was merely late). */
  readonly isRunning: (id: string) => boolean;
  /** Acks an entry, logging rather than throwing. */
  readonly ack: (id: string) => Promise<void>;
  readonly log: Logger;
}

/**
 * What happens to jobs that will not run: the reclaim pass (XAUTOCLAIM) takes over the
 * entries of dead workers and hands their jobs to onLost, never to a handler; a job
 * delivered too often, or unreadable, is parked on the dead-letter stream.
 */
export class LostJobs {
  readonly #o: LostJobsOptions;

  constructor(options: LostJobsOptions) {
    this.#o = options;
  }

  /** One pass over entries idle past the timeout (up to 200). Throws on Redis errors. */
  async reclaim(): Promise<void> {
    let cursor = '0-0';
    for (let round = 0; round < 10; round++) {
      const { next, entries } = await this.#o.stream.claimIdle(
        this.#o.consumer,
        this.#o.idleMs,
        cursor,
      );
      for (const [id, fields] of entries) {
        if (!this.#o.isRunning(id)) await this.#recover(id, fields);
      }
      if (next === '0-0') return;
      cursor = next;
    }
  }

  /**
   * With no worker alive, jobs nobody has taken would wait forever: this process takes them
   * (as its own pending entries) and ends their turns. Throws on Redis errors.
   */
  async orphans(): Promise<void> {
    for (const [id, fields] of await this.#o.stream.readNew(this.#o.consumer, 20)) {
      const raw = fieldOf(fields, 'job');
      const job = parseJob(raw);
      if (job) await this.lose(id, job, 'no worker');
      else await this.park(id, raw, undefined, 'unreadable job');
    }
  }

  /** onLost, then ack; if onLost fails the entry stays pending, comes back, and is parked in the end. */
  async lose(id: string, job: TurnJob, why: LostReason): Promise<void> {
    const onLost = this.#o.onLost();
    if (!onLost) {
      this.#o.log.warn({ turnId: job.turnId }, 'nobody here ends lost turns; left to a reclaimer');
      return;
    }
    try {
      await onLost(job, why);
      await this.#o.ack(id);
    } catch (error) {
      this.#o.log.warn(
        { err: error, turnId: job.turnId },
        'ending a lost turn failed; retrying later',
      );
    }
  }

  /** Moves a job to the dead-letter stream, acks it, and still tries to end its turn once. */
  async park(id: string, raw: string | undefined, job: TurnJob | undefined, reason: string) {
    this.#o.log.error({ id, reason, turnId: job?.turnId }, 'parking a job');
    await this.#o.stream.park(raw, reason);
    await this.#o.ack(id);
    if (!job) return;
    try {
      await this.#o.onLost()?.(job, 'worker died');
    } catch (error) {
      this.#o.log.error(
        { err: error, turnId: job.turnId },
        'could not end the turn of a parked job',
      );
    }
  }

  async #recover(id: string, fields: string[] | null): Promise<void> {
    const raw = fieldOf(fields, 'job');
    const job = parseJob(raw);
    const deliveries = await this.#o.stream.deliveries(id);
    if (!job || deliveries > this.#o.maxDeliveries) {
      await this.park(id, raw, job, job ? `delivered ${deliveries} times` : 'unreadable job');
      return;
    }
    this.#o.log.warn({ turnId: job.turnId, deliveries }, 'reclaimed the job of a dead worker');
    await this.lose(id, job, 'worker died');
  }
}
