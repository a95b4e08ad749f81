import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RETAINED_FRAME_BYTES } from '../../src/bus/frame-bus.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';

/** Over the default byte cap (checked at the end, so that the test says why it fails). */
const ANSWER_BYTES = 5 * 1024 * 1024;

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});
afterAll(async () => {
  await gw.close();
});

describe('frames kept for replay', () => {
  it('keeps no more than the byte cap of a huge answer: replay from before it is a replay_gap', async () => {
    const client = await gw.connect();
    const conversationId = client.ready.conversationId;
    const text = 'All work and no play. '.repeat(Math.ceil(ANSWER_BYTES / 22));
    gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 64 * 1024 });
    const huge = checkTurn(await client.chat('say it all', {}, 30_000));
    expect(huge.text).toBe(text);
    const lastSeq = huge.end.seq as number;

    const watcher = await gw.connect();
    watcher.send({ type: 'subscribe', conversationId, afterSeq: 0 });
    const subscribed = await watcher.next((f) => f.type === 'subscribed');
    // turn-end alone is over the cap: nothing of the turn is kept.
    expect(subscribed).toMatchObject({ lastSeq, firstRetainedSeq: lastSeq + 1 });
    const gap = await watcher.next((f) => f.type === 'error');
    expect(gap.code).toBe('replay_gap');
    expect(watcher.frames.filter((f) => f.type === 'token')).toHaveLength(0);

    // What follows is kept again: a client that saw the huge turn resumes without a gap.
    gw.emulator.enqueue({ blocks: [{ text: 'Short now.' }] });
    const next = checkTurn(await client.chat('and now briefly'));
    const resumed = await gw.connect();
    resumed.send({ type: 'subscribe', conversationId, afterSeq: lastSeq });
    await resumed.next((f) => f.type === 'turn-end');
    expect(resumed.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(resumed.frames.filter((f) => 'seq' in f).map((f) => f.seq)).toEqual(
      Array.from({ length: (next.end.seq as number) - lastSeq }, (_, i) => lastSeq + 1 + i),
    );
    expect(ANSWER_BYTES).toBeGreaterThan(RETAINED_FRAME_BYTES);
  }, 60_000);
});
