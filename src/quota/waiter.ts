import type { QuotaLease } from './call-quota.ts';

/**
 * One call of this process waiting for a slot: its promise settles once, with a lease or
 * an error. An abort settles it at once and tells its quota (`onAbort`) to take it out of
 * the queue; one aborted before it was made never waits (`waiting` is false).
 */
export class Waiter {
  readonly promise: Promise<QuotaLease>;
  /** Times its quota has asked for a slot for it. */
  tries = 0;
  readonly #startedAt = performance.now();
  readonly #signal: AbortSignal | undefined;
  readonly #abort: () => void;
  #resolve!: (lease: QuotaLease) => void;
  #reject!: (error: unknown) => void;
  #waiting = true;

  constructor(signal: AbortSignal | undefined, onAbort: (waiter: Waiter) => void) {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#signal = signal;
    this.#abort = () => {
      this.fail(signal?.reason);
      onAbort(this);
    };
    if (signal?.aborted) this.fail(signal.reason);
    else signal?.addEventListener('abort', this.#abort, { once: true });
  }

  /** Neither admitted nor failed yet. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /** Hands it its slot; `queued` says whether it had to wait for one. */
  admit(release: () => Promise<void>, queued: boolean): void {
    if (!this.#settle()) return;
    let released: Promise<void> | undefined;
    this.#resolve({
      waitedMs: queued ? performance.now() - this.#startedAt : 0,
      release: () => {
        released ??= release();
        return released;
      },
    });
  }

  fail(error: unknown): void {
    if (this.#settle()) this.#reject(error);
  }

  #settle(): boolean {
    if (!this.#waiting) return false;
    this.#waiting = false;
    this.#signal?.removeEventListener('abort', this.#abort);
    return true;
  }
}
