import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DrainWatch, HARD_LIMIT_FACTOR, STALL_MS } from '../../src/gateway/drain-watch.ts';

const LIMIT = 1_000;

/** A socket buffer driven by hand: writes add to it, the client drains it. */
function harness() {
  let buffered = 0;
  let stalls = 0;
  const watch = new DrainWatch({
    limitBytes: LIMIT,
    buffered: () => buffered,
    onStall: () => stalls++,
  });
  return {
    watch,
    get stalls() {
      return stalls;
    },
    write(bytes: number) {
      const before = buffered;
      buffered += bytes;
      watch.wrote(before);
    },
    drain(bytes: number) {
      buffered = Math.max(0, buffered - bytes);
    },
    /** Bytes queued behind the session's back, as a heartbeat ping is. */
    queueOutside(bytes: number) {
      buffered += bytes;
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DrainWatch', () => {
  it('lets a client that drains stay over the limit, however long', () => {
    const h = harness();
    h.write(LIMIT * 2);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(STALL_MS - 1);
      h.drain(10);
      h.write(10);
      vi.advanceTimersByTime(1);
    }
    expect(h.stalls).toBe(0);
    expect(h.watch.mayWrite()).toBe(true);
  });

  it('reports a client over the limit that drains nothing for a whole STALL_MS', () => {
    const h = harness();
    h.write(LIMIT + 1);
    vi.advanceTimersByTime(STALL_MS - 1);
    expect(h.stalls).toBe(0);
    vi.advanceTimersByTime(1);
    expect(h.stalls).toBe(1);
    vi.advanceTimersByTime(STALL_MS * 3);
    expect(h.stalls, 'once').toBe(1);
  });

  it('reports a client that drained, then stopped, one STALL_MS after a check saw it stopped', () => {
    const h = harness();
    h.write(LIMIT * 2);
    vi.advanceTimersByTime(STALL_MS / 2);
    h.drain(100);
    vi.advanceTimersByTime(STALL_MS / 2);
    expect(h.stalls).toBe(0);
    vi.advanceTimersByTime(STALL_MS);
    expect(h.stalls).toBe(1);
  });

  it('does not take bytes queued outside its writes for progress', () => {
    const h = harness();
    h.write(LIMIT * 2);
    h.queueOutside(2);
    vi.advanceTimersByTime(STALL_MS);
    expect(h.stalls).toBe(1);
  });

  it('stops watching once the buffer is back under the limit', () => {
    const h = harness();
    h.write(LIMIT * 2);
    h.drain(LIMIT * 2);
    vi.advanceTimersByTime(STALL_MS);
    h.write(LIMIT);
    vi.advanceTimersByTime(STALL_MS * 3);
    expect(h.stalls).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('refuses the next write once the buffer is past the hard limit, not before', () => {
    const h = harness();
    h.write(LIMIT * HARD_LIMIT_FACTOR);
    expect(h.watch.mayWrite()).toBe(true);
    // One frame bigger than the hard limit still goes to a client with room for it.
    h.write(LIMIT * HARD_LIMIT_FACTOR * 3);
    expect(h.watch.mayWrite()).toBe(false);
    h.drain(LIMIT * HARD_LIMIT_FACTOR * 3);
    expect(h.watch.mayWrite()).toBe(true);
  });

  it('stops its timer on stop, more than once', () => {
    const h = harness();
    h.write(LIMIT * 2);
    expect(vi.getTimerCount()).toBe(1);
    h.watch.stop();
    h.watch.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(STALL_MS * 2);
    expect(h.stalls).toBe(0);
  });
});
