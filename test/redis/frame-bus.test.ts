import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PublishedFrame } from '../../src/bus/frame-bus.ts';
import { RedisFrameBus } from '../../src/bus/redis-frame-bus.ts';
import { SubscriptionHub } from '../../src/gateway/hub.ts';
import { UserTurnLimiter } from '../../src/gateway/turn-limiter.ts';
import { type TurnEvent, ZERO_USAGE } from '../../src/protocol/frames.ts';
import type { RedisConnections } from '../../src/redis/connection.ts';
import { conversationKeys } from '../../src/redis/keys.ts';
import {
  adminRedis,
  deletePrefix,
  eventually,
  killConnection,
  testConnections,
  testLog,
  testPrefix,
} from './fixture.ts';

let prefix: string;
let admin: Redis;
let open: { bus: RedisFrameBus; connections: RedisConnections; name: string }[];

async function process(
  name: string,
  options: { turnLeaseMs?: number; retainedFrames?: number; retainedFrameBytes?: number } = {},
) {
  const connections = await testConnections(name);
  const bus = new RedisFrameBus({ connections, log: testLog, prefix, ttlSeconds: 600, ...options });
  open.push({ bus, connections, name });
  return bus;
}

beforeEach(() => {
  prefix = testPrefix();
  admin = adminRedis();
  open = [];
});
afterEach(async () => {
  for (const { bus, connections } of open) {
    await bus.close();
    await connections.close();
  }
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

const start = {
  type: 'turn-start',
  model: 'm1',
  agent: 'default',
  userMessage: { content: 'hi' },
} as const;
const token = (text: string): TurnEvent => ({ type: 'token', text });
const end: TurnEvent = {
  type: 'turn-end',
  stopReason: 'end_turn',
  text: '',
  usage: { ...ZERO_USAGE },
  durationMs: 1,
  model: 'm1',
};
const seqs = (frames: PublishedFrame[]) => frames.map((p) => p.frame.seq);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('redis frame bus', () => {
  it('gives a subscriber in another process the same frames and seq values', async () => {
    const a = await process('gw-a');
    const b = await process('gw-b');
    const received: PublishedFrame[] = [];
    const off = await b.subscribe('c1', (p) => received.push(p));
    const sent = [await a.startTurn('c1', 't1', start)];
    for (let i = 0; i < 30; i++) sent.push(await a.publish('c1', 't1', token(`${i} `)));
    sent.push(await a.publish('c1', 't1', end));
    await eventually(() => received.length === 32, 3_000, 'all frames on B');
    expect(received.map((p) => p.json)).toEqual(sent.map((p) => p!.json));
    off();
  });

  it('drops frames of a turn that has ended or lost the conversation to another', async () => {
    const bus = await process('gw');
    await bus.startTurn('c1', 't1', start);
    await bus.publish('c1', 't1', end);
    expect(await bus.publish('c1', 't1', token('late'))).toBeUndefined();
    await bus.startTurn('c1', 't2', start);
    expect(await bus.publish('c1', 't1', end)).toBeUndefined();
    const { state, frames } = await bus.replay('c1', 0);
    expect(seqs(frames)).toEqual([1, 2, 3]);
    expect(state.runningTurnId).toBe('t2');
  });

  it('lets a turn whose lease lapsed end, if no other turn started', async () => {
    const bus = await process('gw', { turnLeaseMs: 200 });
    await bus.startTurn('c1', 't1', start);
    expect(await admin.pttl(conversationKeys(prefix, 'c1').running)).toBeGreaterThan(100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await bus.replay('c1')).state.runningTurnId).toBeNull();
    await bus.publish('c1', 't1', {
      type: 'error',
      code: 'worker_lost',
      message: 'x',
      retryable: true,
    });
    await bus.publish('c1', 't1', end);
    expect(seqs((await bus.replay('c1', 0)).frames)).toEqual([1, 2, 3]);
  });

  it('renews the lease with every frame of the turn', async () => {
    const bus = await process('gw', { turnLeaseMs: 1_000 });
    await bus.startTurn('c1', 't1', start);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await bus.publish('c1', 't1', token('.'));
    }
    expect((await bus.replay('c1')).state.runningTurnId).toBe('t1');
  });

  it('puts every key of a conversation under one hash tag, with a time to live', async () => {
    const bus = await process('gw');
    await bus.startTurn('c_1', 't1', start);
    await bus.publish('c_1', 't1', end);
    const keys = await admin.keys(`${prefix}*`);
    expect(keys.sort()).toEqual(
      ['ended', 'frame-bytes', 'frames', 'seq'].map((s) => `${prefix}{c_1}:${s}`),
    );
    for (const key of keys) expect(await admin.ttl(key)).toBeGreaterThan(590);
  });

  it('keeps the byte total of the log exact through trims, and counts it again when lost', async () => {
    const bus = await process('gw', { retainedFrames: 20, retainedFrameBytes: 2_000 });
    const k = conversationKeys(prefix, 'c1');
    const logBytes = async () => {
      const entries = await admin.xrange(k.frames, '-', '+');
      return entries.reduce((sum, [, fields]) => sum + Buffer.byteLength(fields[1]!), 0);
    };
    await bus.startTurn('c1', 't1', start);
    for (let i = 0; i < 60; i++) {
      await bus.publish('c1', 't1', token('x'.repeat((i * 37) % 400)));
      const total = Number(await admin.get(k.frameBytes));
      expect(total).toBe(await logBytes());
      expect(total).toBeLessThanOrEqual(2_000);
      if (i === 30) await admin.del(k.frameBytes);
    }
    const { state, frames } = await bus.replay('c1', 0);
    expect(frames.length).toBeLessThanOrEqual(20);
    expect(seqs(frames)).toEqual(
      Array.from({ length: frames.length }, (_, i) => state.firstRetainedSeq + i),
    );
    expect(frames.at(-1)!.frame.seq).toBe(61);
  });

  it('goes on from the right seq after a frame over the byte cap emptied the log', async () => {
    const bus = await process('gw', { retainedFrameBytes: 1_000 });
    await bus.startTurn('c1', 't1', start);
    await bus.publish('c1', 't1', token('x'.repeat(5_000)));
    expect((await bus.replay('c1', 0)).state).toMatchObject({ lastSeq: 2, firstRetainedSeq: 3 });
    // The seq counter is lost too: the log, empty as it is, still knows the last seq.
    await admin.del(conversationKeys(prefix, 'c1').seq);
    expect((await bus.publish('c1', 't1', token('y')))?.frame.seq).toBe(3);
    expect(seqs((await bus.replay('c1', 0)).frames)).toEqual([3]);
  });

  it('catches up from the log after its subscriber connection drops', async () => {
    const a = await process('gw-a');
    const b = await process('gw-b');
    const received: PublishedFrame[] = [];
    await b.subscribe('c1', (p) => received.push(p));
    await a.startTurn('c1', 't1', start);
    await eventually(() => received.length === 1, 3_000, 'first frame');
    await killConnection(admin, 'gw-b-frames');
    // Published while B is away: Pub/Sub loses these; the log does not.
    for (let i = 0; i < 10; i++) await a.publish('c1', 't1', token(`${i}`));
    await eventually(() => received.length === 11, 5_000, 'frames after the reconnect');
    await a.publish('c1', 't1', end);
    await eventually(() => received.length === 12, 3_000, 'turn-end live again');
    expect(seqs(received)).toEqual(upTo(12));
  });

  it('tells its subscribers when frames missed while away are no longer in the log', async () => {
    const a = await process('gw-a', { retainedFrames: 3 });
    const b = await process('gw-b');
    const received: PublishedFrame[] = [];
    const resets: number[] = [];
    await b.subscribe('c1', (p) => received.push(p), {
      reset: (lastSeq) => resets.push(lastSeq),
      unreachable: () => resets.push(-1),
    });
    await a.startTurn('c1', 't1', start);
    await eventually(() => received.length === 1, 3_000, 'first frame');
    await killConnection(admin, 'gw-b-frames');
    // Ten frames while B is away; the log keeps only the last three.
    for (let i = 0; i < 10; i++) await a.publish('c1', 't1', token(`${i}`));
    await eventually(() => received.length === 4, 5_000, 'what the log still has');
    expect(resets).toEqual([8]);
    expect(seqs(received)).toEqual([1, 9, 10, 11]);
  });

  it("frees a user's running turn when its turn-end was among the frames lost", async () => {
    const a = await process('gw-a', { retainedFrames: 3 });
    const b = await process('gw-b');
    const limiter = new UserTurnLimiter(new SubscriptionHub(b), 1);
    expect(limiter.tryAcquire('u', 't1')).toBe(true);
    await limiter.watch('u', 'c1', 't1');
    await a.startTurn('c1', 't1', start);
    await killConnection(admin, 'gw-b-frames');
    // While B is away t1 ends and t2 runs on: the log no longer holds t1's turn-end.
    await a.publish('c1', 't1', end);
    await a.startTurn('c1', 't2', start);
    for (let i = 0; i < 5; i++) await a.publish('c1', 't2', token(`${i}`));
    await eventually(() => limiter.running('u') === 0, 5_000, 'the turn freed');
  });

  it('fills a gap in the live frames from the log', async () => {
    const bus = await process('gw');
    const received: PublishedFrame[] = [];
    await bus.subscribe('c1', (p) => received.push(p));
    await bus.startTurn('c1', 't1', start);
    // A frame that reached the log but never the channel.
    const k = conversationKeys(prefix, 'c1');
    const missing = { type: 'token', conversationId: 'c1', turnId: 't1', seq: 2, text: 'lost' };
    await admin.incr(k.seq);
    await admin.xadd(k.frames, '2-0', 'f', JSON.stringify(missing));
    await bus.publish('c1', 't1', token('after'));
    await eventually(() => received.length === 3, 3_000, 'three frames');
    expect(seqs(received)).toEqual([1, 2, 3]);
    expect(received[1]!.frame).toEqual(missing);
  });

  it('delivers each frame once when subscribing races the connection and live frames', async () => {
    const a = await process('gw-a');
    // B's subscriber connection is still connecting when B subscribes.
    const connections = await testConnections('gw-b');
    const b = new RedisFrameBus({ connections, log: testLog, prefix, ttlSeconds: 600 });
    open.push({ bus: b, connections, name: 'gw-b' });
    const received: PublishedFrame[] = [];
    const publishing = (async () => {
      await a.startTurn('c1', 't1', start);
      for (let i = 0; i < 50; i++) await a.publish('c1', 't1', token(`${i}`));
    })();
    await b.subscribe('c1', (p) => received.push(p));
    await publishing;
    await a.publish('c1', 't1', end);
    await eventually(() => received.at(-1)?.frame.type === 'turn-end', 3_000, 'turn-end');
    const got = seqs(received);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(upTo(52).slice(52 - got.length));
  });

  it('starts a deleted conversation again from seq 1 for subscribers elsewhere', async () => {
    const a = await process('gw-a');
    const b = await process('gw-b');
    const received: PublishedFrame[] = [];
    await b.subscribe('c1', (p) => received.push(p));
    await a.startTurn('c1', 't1', start);
    await a.publish('c1', 't1', token('x'));
    await a.publish('c1', 't1', end);
    await eventually(() => received.length === 3, 3_000, 'first life');
    await a.delete('c1');
    await a.startTurn('c1', 't2', start);
    await eventually(() => received.length === 4, 3_000, 'second life');
    expect(received[3]!.frame).toMatchObject({ turnId: 't2', seq: 1 });
  });

  describe('when Redis loses the log', () => {
    /** Deletes the conversation's frame keys, as a Redis that lost its data would have none. */
    const loseLog = async (conversationId: string) => {
      const k = conversationKeys(prefix, conversationId);
      await admin.del(k.seq, k.frames, k.running, k.ended);
    };
    const watcher = async (bus: RedisFrameBus) => {
      const received: PublishedFrame[] = [];
      const resets: number[] = [];
      await bus.subscribe('c1', (p) => received.push(p), {
        reset: (lastSeq) => resets.push(lastSeq),
        unreachable: () => resets.push(-1),
      });
      return { received, resets };
    };

    it('ends the open turn, resets its subscribers, then delivers the new log', async () => {
      const a = await process('gw-a');
      const b = await process('gw-b');
      const w = await watcher(b);
      await a.startTurn('c1', 't1', start);
      await a.publish('c1', 't1', token('ab'));
      await a.publish('c1', 't1', token('cd'));
      await eventually(() => w.received.length === 3, 3_000, 'first turn on B');
      await loseLog('c1');
      await a.startTurn('c1', 't2', start);
      await eventually(() => w.received.length === 6, 5_000, 'the reset');
      expect(w.received.slice(3).map((p) => p.frame)).toMatchObject([
        { type: 'error', turnId: 't1', seq: 4, code: 'unavailable', retryable: true },
        { type: 'turn-end', turnId: 't1', seq: 5, stopReason: 'error', text: 'abcd' },
        { type: 'turn-start', turnId: 't2', seq: 1 },
      ]);
      expect(w.resets).toEqual([0]);
      await a.publish('c1', 't2', token('x'));
      await eventually(() => w.received.length === 7, 3_000, 'the new log goes on');
      expect(w.received[6]!.frame).toMatchObject({ type: 'token', turnId: 't2', seq: 2 });
    });

    it('closes the tool call and the request for approval it had open (invariants 3 and 9)', async () => {
      const a = await process('gw-a');
      const b = await process('gw-b');
      const w = await watcher(b);
      await a.startTurn('c1', 't1', start);
      await a.publish('c1', 't1', {
        type: 'tool-start',
        toolCallId: 'tu1',
        name: 'save_note',
        input: { text: 'x' },
      });
      await a.publish('c1', 't1', {
        type: 'approval-request',
        toolCallId: 'tu1',
        name: 'save_note',
        input: { text: 'x' },
        expiresAt: new Date().toISOString(),
      });
      await eventually(() => w.received.length === 3, 3_000, 'the turn on B');
      await loseLog('c1');
      await a.startTurn('c1', 't2', start);
      await eventually(() => w.received.length === 8, 5_000, 'the reset');
      expect(w.received.slice(3).map((p) => p.frame)).toMatchObject([
        { type: 'approval-result', turnId: 't1', seq: 4, toolCallId: 'tu1', decision: 'cancelled' },
        { type: 'tool-end', turnId: 't1', seq: 5, toolCallId: 'tu1', isError: true },
        { type: 'error', turnId: 't1', seq: 6, code: 'unavailable' },
        { type: 'turn-end', turnId: 't1', seq: 7, stopReason: 'error' },
        { type: 'turn-start', turnId: 't2', seq: 1 },
      ]);
      expect(w.resets).toEqual([0]);
    });

    it('ends a quiet open turn whose log was lost, with no frame to reveal it', async () => {
      const a = await process('gw-a');
      const b = await process('gw-b');
      const w = await watcher(b);
      await a.startTurn('c1', 't1', start);
      await a.publish('c1', 't1', token('so far'));
      await eventually(() => w.received.length === 2, 3_000, 'the turn on B');
      await loseLog('c1');
      await eventually(() => w.received.length === 4, 15_000, 'the turn ended');
      expect(w.received.slice(2).map((p) => p.frame)).toMatchObject([
        { type: 'error', seq: 3, code: 'unavailable' },
        { type: 'turn-end', seq: 4, stopReason: 'error', text: 'so far' },
      ]);
      expect(w.resets).toEqual([0]);
    }, 20_000);

    it('follows a turn already running when it subscribes, so that it can still end it', async () => {
      const a = await process('gw-a');
      await a.startTurn('c1', 't1', start);
      await a.publish('c1', 't1', token('before '));
      const b = await process('gw-b');
      const w = await watcher(b);
      await a.publish('c1', 't1', token('after'));
      await eventually(() => w.received.length === 1, 3_000, 'the live token');
      await loseLog('c1');
      await a.startTurn('c1', 't2', start);
      await eventually(() => w.received.length === 4, 5_000, 'the reset');
      expect(w.received[2]!.frame).toMatchObject({
        type: 'turn-end',
        turnId: 't1',
        text: 'before after',
      });
    });
  });
});
