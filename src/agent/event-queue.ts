/**
 * Events that a producer pushes (synchronously, from callbacks) and one consumer drains
 * as an async iterator until the producer's promise settles. Everything pushed is
 * drained, in order, before the promise's failure is thrown; a push never waits.
 */
export class EventQueue<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;

  push(items: readonly T[]): void {
    if (items.length === 0) return;
    for (const item of items) this.#items.push(item);
    this.#wake?.();
  }

  async *drain(done: Promise<unknown>): AsyncGenerator<T, void> {
    let settled = false;
    let failure: { error: unknown } | undefined;
    done.then(
      () => {
        settled = true;
        this.#wake?.();
      },
      (error: unknown) => {
        settled = true;
        failure = { error };
        this.#wake?.();
      },
    );
    for (;;) {
      while (this.#items.length > 0) {
        const batch = this.#items;
        this.#items = [];
        yield* batch;
      }
      if (settled) break;
      // One waiter at a time, woken by a push or by the end.
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
    if (failure) throw failure.error;
  }
}
