/**
 * A sequence written by the client as frames arrive and read with `for await`.
 *
 * - `replay` (a turn's frames, which are bounded): items are kept, and every reader sees
 *   every item from the first, in order, then the end or the failure.
 * - `queue` (a watch, which may run for days): one reader at a time; items wait until read
 *   and are dropped once read, so memory follows what the reader has not read yet.
 */
export class Feed<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #mode: 'replay' | 'queue';
  #done = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void)[] = [];
  #reading = false;

  constructor(mode: 'replay' | 'queue') {
    this.#mode = mode;
  }

  get done(): boolean {
    return this.#done;
  }

  push(item: T): void {
    if (this.#done) return;
    this.#items.push(item);
    this.#notify();
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#notify();
  }

  fail(error: unknown): void {
    if (this.#done) return;
    this.#failure = { error };
    this.end();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const resolve of wake) resolve();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#mode === 'replay') return this.#replay();
    if (this.#reading) throw new TypeError('This feed has a reader already; read it once.');
    this.#reading = true;
    return this.#queue();
  }

  async *#replay(): AsyncGenerator<T> {
    let next = 0;
    for (;;) {
      if (next < this.#items.length) {
        yield this.#items[next++]!;
        continue;
      }
      if (this.#done) {
        if (this.#failure) throw this.#failure.error;
        return;
      }
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
  }

  async *#queue(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.#items.length > 0) {
          yield this.#items.shift()!;
          continue;
        }
        if (this.#done) {
          if (this.#failure) throw this.#failure.error;
          return;
        }
        await new Promise<void>((resolve) => this.#wake.push(resolve));
      }
    } finally {
      this.#reading = false;
    }
  }
}

/** A promise with its settling functions, and no unhandled rejection if nobody awaits it. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // The rejection is still seen by whoever awaits; it is just not "unhandled" when nobody does.
  promise.catch(() => {});
  let settled = false;
  return {
    promise,
    get settled() {
      return settled;
    },
    resolve(value) {
      if (settled) return;
      settled = true;
      resolve(value);
    },
    reject(error) {
      if (settled) return;
      settled = true;
      reject(error);
    },
  };
}
