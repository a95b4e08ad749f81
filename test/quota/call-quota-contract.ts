import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { CallQuota, CallQuotaOptions, QuotaLease } from '../../src/quota/call-quota.ts';

/** Makes the quotas of one test; what it made is closed after the test by its caller. */
export type MakeQuotas = (count: number, options: CallQuotaOptions) => Promise<CallQuota[]>;

/** Settles `promise` into a value that says whether (and how) it has settled yet. */
function track<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; settled: boolean } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { value, settled: true }),
    (error: unknown) => Object.assign(state, { error, settled: true }),
  );
  return state;
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(10);
  }
}

/** How long a quota may take: to admit a call it wrongly would, to admit one it should. */
export interface ContractTiming {
  readonly quietMs: number;
  /** Below the time a call of a dead process stays in the queue. */
  readonly promptMs: number;
}

/**
 * What every CallQuota does, whatever holds its state. `make(count)` gives `count` quotas
 * sharing one bound, as `count` processes would (an in-memory quota: one, `count` times).
 */
export function callQuotaContract(name: string, make: MakeQuotas, timing: ContractTiming): void {
  const { quietMs, promptMs } = timing;
  describe(`${name}: the bound`, () => {
    it('never admits more than max at once; every call completes, each quota in arrival order', async () => {
      const quotas = await make(3, { max: 4 });
      let holding = 0;
      let most = 0;
      const admitted: number[][] = quotas.map(() => []);
      const calls = quotas.flatMap((quota, q) =>
        Array.from({ length: 20 }, async (_, i) => {
          const lease = await quota.acquire('m');
          admitted[q]!.push(i);
          holding += 1;
          most = Math.max(most, holding);
          await sleep(2 + (i % 4));
          holding -= 1;
          await lease.release();
        }),
      );
      await Promise.all(calls);
      expect(most).toBe(4);
      const inOrder = Array.from({ length: 20 }, (_, i) => i);
      for (const order of admitted) expect(order).toEqual(inOrder);
    });

    it('keeps keys apart: a full key does not hold up another', async () => {
      const [quota] = await make(1, { max: 1 });
      const held = await quota!.acquire('a');
      const other = await quota!.acquire('b');
      expect(other.waitedMs).toBe(0);
      await Promise.all([held.release(), other.release()]);
    });
  });

  describe(`${name}: leaving`, () => {
    it('rejects a call aborted while waiting with its reason; the next call gets the slot', async () => {
      const [first, second] = await make(2, { max: 1 });
      const held = await first!.acquire('m');
      const controller = new AbortController();
      const aborted = track(second!.acquire('m', controller.signal));
      const next = track(second!.acquire('m'));
      await sleep(quietMs);
      const reason = new Error('the turn was cancelled');
      controller.abort(reason);
      await until(() => aborted.settled, 1_000, 'aborted call settled');
      expect(aborted.error).toBe(reason);
      const releasedAt = performance.now();
      await held.release();
      // Not after the aborted call counted as gone: it left the queue at once.
      await until(() => next.settled, 5_000, 'next call admitted');
      expect(performance.now() - releasedAt).toBeLessThan(promptMs);
      await next.value!.release();
    });

    it('rejects at once a call whose signal was aborted before, without taking a slot', async () => {
      const [quota] = await make(1, { max: 1 });
      const reason = new Error('gone already');
      await expect(quota!.acquire('m', AbortSignal.abort(reason))).rejects.toBe(reason);
      const lease = await quota!.acquire('m');
      expect(lease.waitedMs).toBe(0);
      await lease.release();
    });

    it('frees one slot however often a lease is released', async () => {
      const [first, second] = await make(2, { max: 2 });
      const a = await first!.acquire('m');
      const b = await first!.acquire('m');
      const c = track(second!.acquire('m'));
      const d = track(second!.acquire('m'));
      await sleep(quietMs);
      await Promise.all([a.release(), a.release()]);
      await a.release();
      await until(() => c.settled, 5_000, 'c admitted');
      await sleep(quietMs);
      expect(d.settled).toBe(false);
      await b.release();
      await until(() => d.settled, 5_000, 'd admitted');
      await Promise.all([c.value!.release(), d.value!.release()]);
    });

    it('rejects waiting calls and new ones once closed', async () => {
      const [quota] = await make(1, { max: 1 });
      const held = await quota!.acquire('m');
      const waiting = expect(quota!.acquire('m')).rejects.toThrow('shutting down');
      await quota!.close();
      await waiting;
      await expect(quota!.acquire('m')).rejects.toMatchObject({ code: 'unavailable' });
      await held.release();
      await quota!.close();
    });
  });

  describe(`${name}: throttling`, () => {
    it('halves the bound for every quota, down to 1, and restores max after lowerForMs', async () => {
      const [first, second] = await make(2, { max: 8, lowerForMs: 800, halveEveryMs: 0 });
      expect(await second!.limit('m')).toBe(8);
      expect(await first!.throttled('m')).toBe(4);
      expect(await second!.limit('m')).toBe(4);
      expect(await second!.throttled('m')).toBe(2);
      expect(await first!.throttled('m')).toBe(1);
      expect(await second!.throttled('m')).toBe(1);
      expect(await first!.limit('m')).toBe(1);
      expect(await first!.limit('other')).toBe(8);
      const lowered = performance.now();
      await until(async () => (await first!.limit('m')) === 8, 5_000, 'bound back to max');
      expect(performance.now() - lowered).toBeGreaterThan(600);
      expect(await second!.limit('m')).toBe(8);
    });

    it('extends the lowered bound with each throttle inside its window', async () => {
      const [quota] = await make(1, { max: 4, lowerForMs: 1_000, halveEveryMs: 0 });
      await quota!.throttled('m');
      await sleep(600);
      expect(await quota!.throttled('m')).toBe(1);
      // Past the first window, inside the second.
      await sleep(600);
      expect(await quota!.limit('m')).toBe(1);
    });

    it('halves once for the throttles of one burst, and again after halveEveryMs', async () => {
      const [first, second] = await make(2, { max: 8, lowerForMs: 5_000, halveEveryMs: 400 });
      // Four calls admitted together, all throttled: one halving, the window extended.
      const bounds = await Promise.all([
        first!.throttled('m'),
        second!.throttled('m'),
        first!.throttled('m'),
        second!.throttled('m'),
      ]);
      expect(bounds).toEqual([4, 4, 4, 4]);
      expect(await second!.limit('m')).toBe(4);
      await sleep(500);
      expect(await first!.throttled('m')).toBe(2);
    });

    it('admits calls by the lowered bound, and more once it returns to max', async () => {
      const [first, second] = await make(2, { max: 2, lowerForMs: 400 });
      await first!.throttled('m');
      const held = await first!.acquire('m');
      const waiting = track(second!.acquire('m'));
      await sleep(200);
      expect(waiting.settled).toBe(false);
      // No slot is freed: the bound returning to 2 lets it in.
      await until(() => waiting.settled, 5_000, 'admitted once the bound is back');
      expect(waiting.value!.waitedMs).toBeGreaterThan(250);
      await Promise.all([held.release(), waiting.value!.release()]);
    });
  });

  describe(`${name}: waitedMs`, () => {
    it('is 0 when a slot was free', async () => {
      const [quota] = await make(1, { max: 1 });
      const lease = await quota!.acquire('m');
      expect(lease.waitedMs).toBe(0);
      await lease.release();
    });

    it('is about how long the call waited for its slot', async () => {
      const [first, second] = await make(2, { max: 1 });
      const held = await first!.acquire('m');
      const started = performance.now();
      const waiting = second!.acquire('m');
      await sleep(150);
      await held.release();
      const lease: QuotaLease = await waiting;
      expect(lease.waitedMs).toBeGreaterThanOrEqual(140);
      expect(lease.waitedMs).toBeLessThanOrEqual(performance.now() - started + 1);
      await lease.release();
    });
  });
}
