import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FrameBus, PublishedFrame } from '../../src/bus/frame-bus.ts';
import { MemoryFrameBus } from '../../src/bus/memory-frame-bus.ts';
import { RedisFrameBus } from '../../src/bus/redis-frame-bus.ts';
import type { TurnEvent } from '../../src/protocol/frames.ts';
import { TurnFrame } from '../../src/protocol/frames.ts';
import {
  adminRedis,
  deletePrefix,
  testConnections,
  testLog,
  testPrefix,
} from '../redis/fixture.ts';

const CAP = 5;
/** Room for CAP small frames; a frame of a few hundred characters fills a good part of it. */
const BYTES = 1_000;

interface Harness {
  bus: FrameBus;
  close(): Promise<void>;
}

async function memoryHarness(): Promise<Harness> {
  const bus = new MemoryFrameBus({ retainedFrames: CAP, retainedFrameBytes: BYTES });
  return { bus, close: () => bus.close() };
}

async function redisHarness(): Promise<Harness> {
  const prefix = testPrefix();
  const connections = await testConnections();
  const bus = new RedisFrameBus({
    connections,
    log: testLog,
    prefix,
    ttlSeconds: 3600,
    retainedFrames: CAP,
    retainedFrameBytes: BYTES,
  });
  return {
    bus,
    close: async () => {
      await bus.close();
      await connections.close();
      const admin = adminRedis();
      await deletePrefix(admin, prefix);
      admin.disconnect();
    },
  };
}

const start = (content = 'hi') =>
  ({ type: 'turn-start', model: 'm1', agent: 'default', userMessage: { content } }) as const;
const token = (text: string): TurnEvent => ({ type: 'token', text });
const end = (text = ''): TurnEvent => ({
  type: 'turn-end',
  stopReason: 'end_turn',
  text,
  usage: {
    inputTokens: 1,
    outputTokens: 2,
    totalTokens: 3,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  },
  durationMs: 5,
  model: 'm1',
});

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Collects what a listener receives, and waits for a number of frames. */
function collector() {
  const received: PublishedFrame[] = [];
  let wake = () => {};
  return {
    received,
    listener: (p: PublishedFrame) => {
      received.push(p);
      wake();
    },
    async waitFor(count: number, ms = 3_000) {
      const until = Date.now() + ms;
      while (received.length < count) {
        if (Date.now() > until) throw new Error(`got ${received.length} of ${count} frames`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 20);
        });
      }
      return received;
    },
  };
}

describe.each([
  ['memory', memoryHarness],
  ['redis', redisHarness],
])('%s frame bus', (_name, makeHarness) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('allocates seq contiguously from 1 across turns', async () => {
    const seqs: number[] = [];
    for (const turnId of ['t1', 't2']) {
      seqs.push((await h.bus.startTurn('c1', turnId, start()))!.frame.seq);
      seqs.push((await h.bus.publish('c1', turnId, token('a')))!.frame.seq);
      seqs.push((await h.bus.publish('c1', turnId, end('a')))!.frame.seq);
    }
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await h.bus.startTurn('c2', 't3', start()))!.frame.seq).toBe(1);
  });

  it('builds each frame once: its JSON is the frame, with ids and seq', async () => {
    const started = (await h.bus.startTurn('c1', 't1', {
      ...start('héllo "x"'),
      requestId: 'r1',
    }))!;
    const published = (await h.bus.publish('c1', 't1', {
      type: 'tool-start',
      toolCallId: 'tu1',
      name: 'calculator',
      input: { seq: 99, expression: '"seq":1' },
    }))!;
    for (const p of [started, published]) {
      expect(JSON.parse(p.json)).toEqual(p.frame);
      expect(TurnFrame.safeParse(p.frame).success).toBe(true);
    }
    expect(published.frame).toMatchObject({ conversationId: 'c1', turnId: 't1', seq: 2 });
    expect(started.frame).toMatchObject({ requestId: 'r1', userMessage: { content: 'héllo "x"' } });
  });

  it('refuses startTurn while a turn runs, and turn-end frees the conversation', async () => {
    expect(await h.bus.startTurn('c1', 't1', start())).toBeDefined();
    expect(await h.bus.startTurn('c1', 't2', start())).toBeUndefined();
    expect((await h.bus.replay('c1')).state.runningTurnId).toBe('t1');
    await h.bus.publish('c1', 't1', end());
    expect((await h.bus.replay('c1')).state.runningTurnId).toBeNull();
    expect(await h.bus.startTurn('c1', 't2', start())).toBeDefined();
    expect((await h.bus.replay('c1')).state).toMatchObject({ lastSeq: 3, runningTurnId: 't2' });
  });

  it('lets exactly one of many concurrent startTurn calls win', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => h.bus.startTurn('c1', `t${i}`, start())),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('replays the retained frames after afterSeq, with the state', async () => {
    await h.bus.startTurn('c1', 't1', start());
    await h.bus.publish('c1', 't1', token('a'));
    await h.bus.publish('c1', 't1', token('b'));
    const { state, frames } = await h.bus.replay('c1', 1);
    expect(state).toEqual({ lastSeq: 3, firstRetainedSeq: 1, runningTurnId: 't1' });
    expect(frames.map((p) => p.frame.seq)).toEqual([2, 3]);
    expect(frames.map((p) => JSON.parse(p.json))).toEqual(frames.map((p) => p.frame));
    expect((await h.bus.replay('c1')).frames).toEqual([]);
    expect((await h.bus.replay('c1', 3)).frames).toEqual([]);
    expect(await h.bus.replay('none', 0)).toEqual({
      state: { lastSeq: 0, firstRetainedSeq: 1, runningTurnId: null },
      frames: [],
    });
  });

  it('keeps the newest frames up to the cap and says where they begin', async () => {
    await h.bus.startTurn('c1', 't1', start());
    for (let i = 0; i < 10; i++) await h.bus.publish('c1', 't1', token(`${i}`));
    const { state, frames } = await h.bus.replay('c1', 0);
    expect(state.lastSeq).toBe(11);
    expect(state.firstRetainedSeq).toBe(11 - CAP + 1);
    expect(frames.map((p) => p.frame.seq)).toEqual([7, 8, 9, 10, 11]);
  });

  it('keeps the newest frames within the byte cap, oldest out first', async () => {
    await h.bus.startTurn('c1', 't1', start());
    for (let i = 0; i < 4; i++) await h.bus.publish('c1', 't1', token(`${i}`.repeat(300)));
    const { state, frames } = await h.bus.replay('c1', 0);
    const bytes = frames.map((p) => Buffer.byteLength(p.json));
    expect(sum(bytes)).toBeLessThanOrEqual(BYTES);
    // Exactly the newest frames that fit: one more would not.
    expect(frames.map((p) => p.frame.seq)).toEqual([4, 5]);
    expect(sum(bytes) + bytes[0]!).toBeGreaterThan(BYTES);
    expect(state).toMatchObject({ lastSeq: 5, firstRetainedSeq: 4 });
  });

  it('keeps nothing of a frame bigger than the byte cap, and keeps what follows it', async () => {
    await h.bus.startTurn('c1', 't1', start());
    await h.bus.publish('c1', 't1', token('a'));
    const big = await h.bus.publish('c1', 't1', end('x'.repeat(BYTES * 3)));
    expect((await h.bus.replay('c1', 0)).state).toEqual({
      lastSeq: 3,
      firstRetainedSeq: 4,
      runningTurnId: null,
    });
    expect((await h.bus.replay('c1', 0)).frames).toEqual([]);
    expect(big?.frame.seq).toBe(3);
    await h.bus.startTurn('c1', 't2', start());
    const { state, frames } = await h.bus.replay('c1', 0);
    expect(state.firstRetainedSeq).toBe(4);
    expect(frames.map((p) => p.frame.seq)).toEqual([4]);
  });

  it('delivers frames published after subscribe resolves, in order, to every listener', async () => {
    const a = collector();
    const b = collector();
    const offA = await h.bus.subscribe('c1', a.listener);
    const offB = await h.bus.subscribe('c1', b.listener);
    await h.bus.startTurn('c1', 't1', start());
    for (let i = 0; i < 20; i++) await h.bus.publish('c1', 't1', token(`${i}`));
    await h.bus.publish('c1', 't1', end());
    await a.waitFor(22);
    await b.waitFor(22);
    expect(a.received.map((p) => p.frame.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(b.received.map((p) => p.json)).toEqual(a.received.map((p) => p.json));
    expect(a.received.every((p) => JSON.stringify(JSON.parse(p.json)) === p.json)).toBe(true);
    offA();
    await h.bus.startTurn('c1', 't2', start());
    await b.waitFor(23);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a.received).toHaveLength(22);
    offB();
  });

  it('delivers only the frames of the conversation subscribed to', async () => {
    const a = collector();
    const off = await h.bus.subscribe('c1', a.listener);
    await h.bus.startTurn('c2', 't9', start());
    await h.bus.startTurn('c1', 't1', start());
    await a.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(a.received.map((p) => p.frame.conversationId)).toEqual(['c1']);
    off();
  });

  it('forgets frames and the running turn on delete', async () => {
    await h.bus.startTurn('c1', 't1', start());
    await h.bus.publish('c1', 't1', token('a'));
    await h.bus.delete('c1');
    expect(await h.bus.replay('c1', 0)).toEqual({
      state: { lastSeq: 0, firstRetainedSeq: 1, runningTurnId: null },
      frames: [],
    });
    expect((await h.bus.startTurn('c1', 't2', start()))!.frame.seq).toBe(1);
  });
});
