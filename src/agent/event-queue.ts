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
    const finished = done.then(
      () => {
        settled = true;
      },
      (error: unknown) => {
        settled = true;
        throw error;
      },
    );
    // Waits without throwing, so what was pushed before a failure is drained first.
    const ended = finished.catch(() => undefined);
    for (;;) {
      while (this.#items.length > 0) {
        const batch = this.#items;
        this.#items = [];
        yield* batch;
      }
      if (settled) break;
      await Promise.race([ended, new Promise<void>((resolve) => (this.#wake = resolve))]);
      this.#wake = undefined;
    }
    await finished;
  }
}
