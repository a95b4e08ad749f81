import { ProtocolError } from '../protocol/errors.ts';

/** A slot held for one model call; released once the call is over, however it ended. */
export interface QuotaLease {
  /** How long the call waited for its slot (ms); 0 when a slot was free at once. */
  readonly waitedMs: number;
  /** Gives the slot back. Idempotent, and never rejects: a slot it fails to free lapses. */
  release(): Promise<void>;
}

/**
 * A bound on concurrent model calls per key (a model), shared by every process that uses
 * the same store. Calls over the bound wait their turn, first come first served, instead of
 * failing; throttling that happens anyway lowers the bound for a while.
 */
export interface CallQuota {
  /** Waits (FIFO per key) for a slot; rejects with `signal.reason` if aborted while waiting. */
  acquire(key: string, signal?: AbortSignal): Promise<QuotaLease>;
  /**
   * A call of `key` was throttled anyway: halves its bound (at least 1) until `lowerForMs`
   * passes without another throttle. Resolves with the bound now in force.
   */
  throttled(key: string): Promise<number>;
  /** The bound in force now for `key`. */
  limit(key: string): Promise<number>;
  /** Waiting calls reject; slots still held are not renewed any more. Idempotent. */
  close(): Promise<void>;
}

export interface CallQuotaOptions {
  /** Calls of one key at once (BEDROCK_MAX_CONCURRENCY). */
  readonly max: number;
  /** How long a lowered bound holds after the last throttle (ms). */
  readonly lowerForMs?: number;
  /**
   * A throttle this soon after the last halving extends the window without halving again
   * (ms): the calls of one burst were admitted under the same bound, and their throttles
   * say the same thing once.
   */
  readonly halveEveryMs?: number;
}

export const DEFAULT_LOWER_FOR_MS = 60_000;
export const DEFAULT_HALVE_EVERY_MS = 5_000;

/** Checks `max` once: a bound below 1 would make every call wait forever. */
export function checkMax(max: number): number {
  if (!Number.isInteger(max) || max < 1) {
    throw new Error(`A call quota's max must be a whole number of at least 1, not ${max}.`);
  }
  return max;
}

/** The bound after a throttle: half the one in force, at least 1. */
export function halved(bound: number): number {
  return Math.max(1, Math.floor(bound / 2));
}

/** Why waiting calls reject when their quota closes (the process is shutting down). */
export function closedError(): Error {
  return new ProtocolError('unavailable', 'This worker is shutting down; send it again.');
}
