import {
  type CallQuota,
  type CallQuotaOptions,
  checkMax,
  closedError,
  DEFAULT_HALVE_EVERY_MS,
  DEFAULT_LOWER_FOR_MS,
  halved,
  type QuotaLease,
} from './call-quota.ts';
import { Waiter } from './waiter.ts';

/** One key's calls in this process. */
interface Slots {
  held: number;
  /** In arrival order. */
  readonly waiters: Set<Waiter>;
}

/** A bound lowered by throttling, until its timer restores `max`. */
interface Lowered {
  readonly bound: number;
  readonly timer: NodeJS.Timeout;
  /** performance.now() of the halving that set `bound`. */
  readonly halvedAt: number;
}

/** The bound of one process (the embedded default): slots and queues in memory. */
export class MemoryCallQuota implements CallQuota {
  readonly #max: number;
  readonly #lowerForMs: number;
  readonly #halveEveryMs: number;
  readonly #slots = new Map<string, Slots>();
  readonly #lowered = new Map<string, Lowered>();
  #closed = false;

  constructor(options: CallQuotaOptions) {
    this.#max = checkMax(options.max);
    this.#lowerForMs = options.lowerForMs ?? DEFAULT_LOWER_FOR_MS;
    this.#halveEveryMs = options.halveEveryMs ?? DEFAULT_HALVE_EVERY_MS;
  }

  acquire(key: string, signal?: AbortSignal): Promise<QuotaLease> {
    if (this.#closed) return Promise.reject(closedError());
    const waiter = new Waiter(signal, (gone) => {
      this.#slots.get(key)?.waiters.delete(gone);
      this.#admit(key);
    });
    if (!waiter.waiting) return waiter.promise;
    const slots = this.#slotsOf(key);
    if (slots.waiters.size === 0 && slots.held < this.#bound(key)) {
      this.#take(key, slots, waiter, false);
    } else {
      slots.waiters.add(waiter);
    }
    return waiter.promise;
  }

  async throttled(key: string): Promise<number> {
    const now = performance.now();
    const last = this.#lowered.get(key);
    const settling = last !== undefined && now - last.halvedAt < this.#halveEveryMs;
    const bound = settling ? last.bound : halved(this.#bound(key));
    const halvedAt = settling ? last.halvedAt : now;
    clearTimeout(last?.timer);
    const timer = setTimeout(() => {
      this.#lowered.delete(key);
      this.#admit(key);
    }, this.#lowerForMs);
    timer.unref();
    this.#lowered.set(key, { bound, timer, halvedAt });
    return bound;
  }

  async limit(key: string): Promise<number> {
    return this.#bound(key);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const { timer } of this.#lowered.values()) clearTimeout(timer);
    this.#lowered.clear();
    for (const slots of this.#slots.values()) {
      for (const waiter of slots.waiters) waiter.fail(closedError());
      slots.waiters.clear();
    }
  }

  #bound(key: string): number {
    return this.#lowered.get(key)?.bound ?? this.#max;
  }

  #slotsOf(key: string): Slots {
    let slots = this.#slots.get(key);
    if (!slots) {
      slots = { held: 0, waiters: new Set() };
      this.#slots.set(key, slots);
    }
    return slots;
  }

  /** Hands free slots to the waiters, first come first served. */
  #admit(key: string): void {
    const slots = this.#slots.get(key);
    if (!slots) return;
    for (const waiter of slots.waiters) {
      if (slots.held >= this.#bound(key)) break;
      slots.waiters.delete(waiter);
      this.#take(key, slots, waiter, true);
    }
    if (slots.held === 0 && slots.waiters.size === 0) this.#slots.delete(key);
  }

  #take(key: string, slots: Slots, waiter: Waiter, queued: boolean): void {
    slots.held += 1;
    waiter.admit(async () => {
      slots.held -= 1;
      this.#admit(key);
    }, queued);
  }
}
