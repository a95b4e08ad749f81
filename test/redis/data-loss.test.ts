import { beforeAll, describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import { type Frame, TestClient } from '../helpers/ws-client.ts';
import { eventually } from './fixture.ts';
import { type GatewayProcess, type OwnRedis, useProcessRig } from './processes.ts';

// docs/protocol.md invariant 8, when Redis fails during a turn: down, or back without its
// data. Every socket watching the turn gets its error and turn-end within 40 s, or is
// closed so that it resumes with afterSeq; a conversation whose data is gone is not_found.
// These tests stop, empty and restart Redis, so they run a redis-server of their own.
const rig = useProcessRig({ ownRedis: true });
let redis: OwnRedis;
let gateway: GatewayProcess;

beforeAll(async () => {
  redis = rig.redis!;
  [gateway] = await Promise.all([rig.gateway('gateway'), rig.worker('worker')]);
}, 60_000);

const isReady = async () => (await fetch(`${gateway.url}/ready`)).status === 200;

/** Starts a turn that streams for about `seconds`, and waits for its first tokens. */
async function longTurn(client: TestClient, seconds: number): Promise<{ turn: Promise<Frame[]> }> {
  const chunks = seconds * 20;
  const answer = Array.from({ length: chunks }, (_, i) => `w${i % 10}, `).join('');
  rig.emulator.reset();
  rig.emulator.enqueue({ blocks: [{ text: answer }], chunkChars: 4, delayMs: 50 });
  const turn = client.chat('a long answer, please', {}, 60_000);
  await client.next((f) => f.type === 'token' && (f.seq as number) >= 4, 10_000);
  return { turn };
}

/** The error that refuses `frame`. */
async function refusal(client: TestClient, frame: Record<string, unknown>): Promise<Frame> {
  const since = client.frames.length;
  client.send(frame);
  return client.next((f) => f.type === 'error' && f.turnId === undefined, 5_000, since);
}

describe('Redis loses its data', () => {
  it('ends a running turn for its watchers when Redis comes back empty, then refuses the lost conversation', async () => {
    rig.showLogsOnFailure();
    await eventually(isReady, 10_000, 'ready');
    const watcher = await TestClient.connect(gateway.wsUrl);
    const other = await TestClient.connect(gateway.wsUrl);
    const conversationId = watcher.ready.conversationId;
    const { turn } = await longTurn(watcher, 10);
    other.send({ type: 'subscribe', conversationId });
    await other.next((f) => f.type === 'subscribed', 5_000);
    await redis.stop({ keepData: false });
    const killedAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await redis.restart();

    const frames = await turn;
    const { end } = checkTurn(frames);
    expect(Date.now() - killedAt).toBeLessThan(40_000);
    expect(end.stopReason).toBe('error');
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      code: 'unavailable',
      retryable: true,
    });
    // The other socket watched too: the same ending, and it is told to reload.
    const seen = await other.turnFrames(end.turnId as string, 5_000);
    expect(seen.at(-1)).toEqual(end);
    const gap = await other.next((f) => f.type === 'error' && f.code === 'replay_gap', 5_000, 0);
    expect(gap.conversationId).toBe(conversationId);

    // The conversation's data is gone: not_found, never silently empty.
    await eventually(isReady, 15_000, 'a worker again');
    const [lost] = await watcher.chat('and now?');
    expect(lost).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await refusal(other, { type: 'subscribe', conversationId, afterSeq: 5 })).toMatchObject({
      code: 'not_found',
    });
    // New conversations work.
    const fresh = await TestClient.connect(gateway.wsUrl);
    rig.emulator.reset();
    rig.emulator.enqueue({ blocks: [{ text: 'Fresh start.' }] });
    expect(checkTurn(await fresh.chat('hello again', {}, 20_000)).text).toBe('Fresh start.');
    await Promise.all([watcher.close(), other.close(), fresh.close()]);
  }, 90_000);

  it('after a FLUSHALL, refuses the lost conversation and answers afterSeq with not_found', async () => {
    rig.showLogsOnFailure();
    await eventually(isReady, 15_000, 'ready');
    const client = await TestClient.connect(gateway.wsUrl);
    const second = await TestClient.connect(gateway.wsUrl);
    const conversationId = client.ready.conversationId;
    rig.emulator.reset();
    for (const text of ['One.', 'Two.', 'Three.']) {
      rig.emulator.enqueue({ blocks: [{ text }] });
      checkTurn(await client.chat(`say ${text}`));
    }
    second.send({ type: 'subscribe', conversationId });
    await second.next((f) => f.type === 'subscribed', 5_000);
    await rig.admin.flushall();
    const [lost] = await client.chat('say four');
    expect(lost).toMatchObject({ type: 'error', code: 'not_found' });
    expect(
      await refusal(second, { type: 'subscribe', conversationId, afterSeq: 50 }),
    ).toMatchObject({ code: 'not_found' });
    expect(await refusal(second, { type: 'history', conversationId })).toMatchObject({
      code: 'not_found',
    });
    await Promise.all([client.close(), second.close()]);
  }, 60_000);

  it('ends a running turn when a FLUSHALL empties Redis under it, with no reconnect to tell', async () => {
    rig.showLogsOnFailure();
    await eventually(isReady, 15_000, 'ready');
    const watcher = await TestClient.connect(gateway.wsUrl);
    const { turn } = await longTurn(watcher, 10);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await rig.admin.flushall();
    const flushedAt = Date.now();
    const frames = await turn;
    expect(checkTurn(frames).end.stopReason).toBe('error');
    expect(Date.now() - flushedAt).toBeLessThan(15_000);
    expect(frames.find((f) => f.type === 'error')).toMatchObject({ code: 'unavailable' });
    await watcher.close();
  }, 60_000);
});

/**
 * Holds a turn's watcher through a Redis failure: closed with 1012 within 40 s, then, once
 * Redis is back, `subscribe` with its last seq gives the rest of the turn.
 */
async function closedThenResumed(
  fail: () => Promise<void> | void,
  recover: () => Promise<void> | void,
) {
  rig.showLogsOnFailure();
  await eventually(isReady, 15_000, 'ready');
  const watcher = await TestClient.connect(gateway.wsUrl);
  const conversationId = watcher.ready.conversationId;
  const { turn } = await longTurn(watcher, 10);
  turn.catch(() => undefined); // the socket closes before the turn ends
  const turnId = watcher.frames.find((f) => f.type === 'turn-start')?.turnId;
  await fail();
  const failedAt = Date.now();
  expect((await watcher.closed).code).toBe(1012);
  expect(Date.now() - failedAt).toBeLessThan(40_000);
  const lastSeen = Math.max(...watcher.frames.map((f) => (f.seq as number | undefined) ?? 0));

  await recover();
  await eventually(isReady, 15_000, 'ready again');
  const back = await TestClient.connect(gateway.wsUrl);
  back.send({ type: 'subscribe', conversationId, afterSeq: lastSeen });
  const rest = await back.turnFrames(turnId as string, 40_000);
  expect(rest[0]!.seq).toBe(lastSeen + 1);
  expect(rest.at(-1)).toMatchObject({ type: 'turn-end', stopReason: 'error' });
  await back.close();
}

describe('Redis down for long during a turn', () => {
  it('closes the watching sockets with 1012 within 40 s; afterSeq then resumes the turn', async () => {
    await closedThenResumed(
      () => redis.stop(),
      () => redis.restart(),
    );
  }, 120_000);

  it('closes them too when Redis hangs without dropping the connections', async () => {
    await closedThenResumed(
      () => redis.freeze(),
      () => redis.thaw(),
    );
  }, 120_000);
});
