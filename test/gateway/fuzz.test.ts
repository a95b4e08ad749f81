import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { truncateUtf8 } from '../../src/agent/normalizer.ts';
import { ERROR_CODES } from '../../src/protocol/errors.ts';
import { ServerFrame } from '../../src/protocol/frames.ts';
import { parseClientFrame } from '../../src/protocol/parse.ts';
import { captureLogs } from '../helpers/env.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';
import {
  anyFrameText,
  edgeString,
  frameLikeObject,
  validFrame,
} from '../protocol/frame-arbitraries.ts';

const MAX_FRAME_BYTES = 4096;
/** Over this the socket closes with 1009; the fuzz stays at or under it. */
const CLOSE_BYTES = MAX_FRAME_BYTES * 4;
const FRAMES = 10_000;
const SOCKETS = 8;
/** Stands for the conversation of the socket that sends the frame. */
const OWN = '\u0000own\u0000';

interface FuzzFrame {
  readonly data: string | Buffer;
  readonly binary: boolean;
}

const bytesOf = (data: string | Buffer) =>
  typeof data === 'string' ? Buffer.byteLength(data) : data.length;
const text = (data: string): FuzzFrame => ({ data, binary: false });

/**
 * Malformed frames of every kind, and well-formed ones the session must refuse, none of
 * which starts a turn: a chat that parses is sent only with a model no one has.
 */
const fuzzFrame: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    { weight: 6, arbitrary: anyFrameText.map(text) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 2048 }).map((b) => ({
        data: Buffer.from(b),
        binary: true,
      })),
    },
    {
      weight: 1,
      arbitrary: validFrame.map((f) => ({ data: JSON.stringify(f), binary: true })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: MAX_FRAME_BYTES + 4, max: CLOSE_BYTES }), edgeString, fc.boolean())
        .map(([size, unit, binary]) => ({ data: oversize(size, unit), binary })),
    },
    {
      weight: 2,
      arbitrary: frameLikeObject.map((o) => text(JSON.stringify({ ...o, conversationId: OWN }))),
    },
  )
  .filter(({ data, binary }) => {
    if (bytesOf(data) > CLOSE_BYTES) return false;
    const parsed = parseClientFrame(data, binary, MAX_FRAME_BYTES);
    return !parsed.ok || parsed.frame.type !== 'chat' || parsed.frame.model !== undefined;
  });

/** The start of a chat frame, `size` bytes long but for the last character cut off. */
function oversize(size: number, unit: string): string {
  const body = JSON.stringify(unit || 'x')
    .slice(1, -1)
    .repeat(size);
  return truncateUtf8(`{"type":"chat","content":"${body}`, size);
}

let gw: TestGateway;
const logs = captureLogs();

beforeAll(async () => {
  gw = await startGateway(
    {
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
      // The fuzz is about content, not rate: one socket may send thousands of frames at once.
      RATE_LIMIT_FRAMES_PER_SEC: '1000000',
      LOG_LEVEL: 'warn',
    },
    undefined,
    logs.sink,
  );
});
afterAll(async () => {
  await gw.close();
});

/** The id of the ping after the i-th frame; no fuzz frame pings with it. */
const mark = (i: number) => `\u0001fuzz-${i}`;

/**
 * Sends `frames` on `client`, each followed by a ping, and returns what answered each
 * frame: the frames received between the pong of the frame before and its own pong.
 * Frames of one socket are handled in order, so the pong closes the answer.
 */
async function sendAll(client: TestClient, frames: FuzzFrame[]): Promise<Frame[][]> {
  const own = client.ready.conversationId;
  const since = client.frames.length;
  frames.forEach(({ data, binary }, i) => {
    const out = typeof data === 'string' ? data.replaceAll(OWN, own) : data;
    client.socket.send(out, { binary });
    client.send({ type: 'ping', id: mark(i) });
  });
  await client.next((f) => f.type === 'pong' && f.id === mark(frames.length - 1), 25_000);
  const answers: Frame[][] = [[]];
  for (const frame of client.frames.slice(since)) {
    if (frame.type === 'pong' && frame.id === mark(answers.length - 1)) answers.push([]);
    else answers.at(-1)!.push(frame);
  }
  return answers.slice(0, frames.length);
}

describe('fuzzing one gateway through real sockets', () => {
  it(`answers ${FRAMES} malformed frames within the protocol, then serves a chat`, async () => {
    const frames = fc.sample(fuzzFrame, { numRuns: FRAMES, seed: 20_240_611 });
    expect(frames.filter((f) => f.binary).length).toBeGreaterThan(FRAMES / 10);
    expect(frames.filter((f) => bytesOf(f.data) > MAX_FRAME_BYTES).length).toBeGreaterThan(
      FRAMES / 20,
    );
    const clients = await Promise.all(Array.from({ length: SOCKETS }, () => gw.connect()));
    const share = Math.ceil(FRAMES / SOCKETS);
    const answers = await Promise.all(
      clients.map((c, i) => sendAll(c, frames.slice(i * share, (i + 1) * share))),
    );

    const codes = new Map<string, number>();
    answers.flat().forEach((answer, i) => {
      const { data, binary } = frames[i]!;
      for (const frame of answer) {
        expect(ServerFrame.safeParse(frame).success, JSON.stringify(frame)).toBe(true);
        if (frame.type !== 'error') continue;
        expect(Object.keys(ERROR_CODES)).toContain(frame.code);
        expect(frame.code, String(frame.message)).not.toBe('internal');
        codes.set(frame.code as string, (codes.get(frame.code as string) ?? 0) + 1);
      }
      // What the parser refuses is answered with exactly that error, on the wire too.
      const expected = parseClientFrame(
        typeof data === 'string' ? Buffer.from(data) : data,
        binary,
        MAX_FRAME_BYTES,
      );
      if (!expected.ok) {
        expect(answer).toEqual([
          {
            type: 'error',
            code: expected.error.code,
            message: expected.error.message,
            retryable: false,
            ...(expected.requestId !== undefined ? { requestId: expected.requestId } : {}),
          },
        ]);
      }
    });
    for (const code of ['bad_frame', 'frame_too_large', 'unknown_type', 'not_found']) {
      expect(codes.get(code), code).toBeGreaterThan(0);
    }
    for (const client of clients) expect(client.socket.readyState).toBe(WebSocket.OPEN);

    gw.emulator.enqueue({ blocks: [{ text: 'Still here.' }] });
    const client = await gw.connect();
    expect(checkTurn(await client.chat('are you there?')).end.text).toBe('Still here.');
    expect(gw.emulator.requests, 'no fuzz frame started a turn').toHaveLength(1);
    const errors = logs.lines.filter((line) => JSON.parse(line).level >= 50);
    expect(errors, 'nothing is logged as an error').toEqual([]);
  }, 60_000);

  it('closes a socket whose text frame is not UTF-8 with 1007 and serves the next one', async () => {
    const client = await gw.connect();
    client.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await client.closed).code).toBe(1007);
    const next = await gw.connect();
    next.send({ type: 'ping', id: 'after' });
    expect(await next.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 'after' });
  });
});
