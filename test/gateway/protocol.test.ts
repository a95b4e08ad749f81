import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ServerFrame } from '../../src/protocol/frames.ts';
import type { Reply } from '../emulator/index.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({ MAX_FRAME_BYTES: '1024' });
});
afterAll(async () => {
  await gw.close();
});
afterEach(async () => {
  await gw.closeClients();
  gw.emulator.reset();
});

const hang = { blocks: [{ text: 'thinking very slowly about it' }], hangAfterEvents: 3 };
const plain = (text: string) => ({ blocks: [{ text }] });

async function nextError(client: TestClient, send: object | string | Buffer) {
  const since = client.frames.length;
  if (Buffer.isBuffer(send)) client.socket.send(send, { binary: true });
  else client.send(send);
  return client.next((f) => f.type === 'error', 5_000, since);
}

describe('connection', () => {
  it('sends ready with a fresh conversation, the models and the limits', async () => {
    const client = await gw.connect();
    const ready = client.ready;
    expect(ServerFrame.safeParse(ready).success).toBe(true);
    expect(ready).toMatchObject({
      protocol: 1,
      userId: 'anonymous',
      limits: { maxFrameBytes: 1024, maxContentChars: 32000 },
    });
    expect(ready.conversationId).toMatch(/^c_/);
    expect((ready.models as { default: boolean }[]).map((m) => m.default)).toEqual([true, false]);
  });

  it('answers ping with pong and the same id', async () => {
    const client = await gw.connect();
    client.send({ type: 'ping', id: 'abc' });
    expect(await client.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 'abc' });
  });

  it('treats plain text as a chat (the wscat shorthand)', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(plain('Hi.'));
    client.send('   hello from wscat  ');
    const start = await client.next((f) => f.type === 'turn-start');
    expect(start.userMessage).toEqual({ content: 'hello from wscat' });
    expect(start.conversationId).toBe(client.ready.conversationId);
  });
});

describe('subscriptions', () => {
  it('subscribes the chat sender without a subscribed frame: turn-start comes first', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(plain('Hello.'));
    const frames = await client.chat('hi');
    expect(client.frames.map((f) => f.type).slice(0, 2)).toEqual(['ready', 'turn-start']);
    checkTurn(frames);
  });

  it('answers every subscribe with subscribed, also when already watching', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(plain('One.'));
    await client.chat('one');
    const conversationId = client.ready.conversationId;
    for (let i = 0; i < 2; i++) {
      const since = client.frames.length;
      client.send({ type: 'subscribe', conversationId });
      const subscribed = await client.next((f) => f.type === 'subscribed', 5_000, since);
      expect(subscribed).toMatchObject({
        conversationId,
        lastSeq: 3,
        firstRetainedSeq: 1,
        runningTurnId: null,
      });
    }
  });

  it('stops relaying after unsubscribe', async () => {
    const a = await gw.connect();
    const b = await gw.connect();
    const conversationId = a.ready.conversationId;
    gw.emulator.enqueue(plain('first'));
    await a.chat('first');
    b.send({ type: 'subscribe', conversationId });
    await b.next((f) => f.type === 'subscribed');
    b.send({ type: 'unsubscribe', conversationId });
    b.send({ type: 'ping', id: 'after' });
    await b.next((f) => f.type === 'pong');
    gw.emulator.enqueue(plain('second'));
    await a.chat('second');
    expect(b.frames.filter((f) => f.type === 'turn-start')).toHaveLength(0);
  });
});

describe('bad frames', () => {
  const cases: [string, object | string | Buffer, string][] = [
    ['invalid JSON', '{"type": "chat", ', 'bad_frame'],
    ['a JSON array', '[1, 2]', 'bad_frame'],
    ['no type', { content: 'x' }, 'bad_frame'],
    ['an unknown type', { type: 'dance' }, 'unknown_type'],
    ['an empty chat', { type: 'chat', content: '' }, 'bad_frame'],
    [
      'a negative afterSeq',
      { type: 'subscribe', conversationId: 'c_1', afterSeq: -1 },
      'bad_frame',
    ],
    ['a binary frame', Buffer.from('hello'), 'bad_frame'],
    ['a blank frame', '   ', 'bad_frame'],
    ['a frame over maxFrameBytes', 'x'.repeat(2000), 'frame_too_large'],
  ];
  it.each(cases)(
    'answers %s with its code and keeps the socket usable',
    async (_name, send, code) => {
      const client = await gw.connect();
      const error = await nextError(client, send);
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(false);
      client.send({ type: 'ping', id: 1 });
      expect(await client.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 1 });
    },
  );

  it('says what a bad field must be, in plain words', async () => {
    const client = await gw.connect();
    const error = await nextError(client, { type: 'history', conversationId: 42, limit: 0 });
    expect(error).toMatchObject({
      code: 'bad_frame',
      message:
        'conversationId must be a string of 1 to 200 characters; limit must be a whole number ≥ 1.',
    });
  });

  it('echoes requestId on the error that refuses a frame', async () => {
    const client = await gw.connect();
    const error = await nextError(client, {
      type: 'chat',
      content: 'x',
      model: 'nope',
      requestId: 'req-7',
    });
    expect(error).toMatchObject({ code: 'unknown_model', requestId: 'req-7', retryable: false });
  });

  it('closes the socket with 1009 for a frame over four times the limit', async () => {
    const client = await gw.connect();
    client.send('y'.repeat(4 * 1024 + 1));
    expect((await client.closed).code).toBe(1009);
  });

  it('answers a conversation that does not exist with not_found', async () => {
    const client = await gw.connect();
    const error = await nextError(client, { type: 'history', conversationId: 'c_nope' });
    expect(error.code).toBe('not_found');
  });
});

describe('turns and conversations', () => {
  it('refuses a chat for a conversation that is running a turn with turn_in_progress', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(hang);
    client.send({ type: 'chat', content: 'first' });
    await client.next((f) => f.type === 'token');
    const error = await nextError(client, { type: 'chat', content: 'second', requestId: 'r2' });
    expect(error).toMatchObject({ code: 'turn_in_progress', retryable: true, requestId: 'r2' });
    client.send({ type: 'cancel', conversationId: client.ready.conversationId });
    await client.next((f) => f.type === 'turn-end');
  });

  it('cancels a turn: the Bedrock stream closes, the turn ends cancelled, the next turn works', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(hang);
    client.send({ type: 'chat', content: 'go slowly' });
    await client.next((f) => f.type === 'token');
    client.send({ type: 'cancel', conversationId: client.ready.conversationId });
    const aborted = await gw.emulator.waitForAbort(3_000);
    expect(aborted.operation).toBe('converse-stream');
    const end = await client.next((f) => f.type === 'turn-end');
    expect(end.stopReason).toBe('cancelled');
    const cancelled = client.frames.filter((f) => f.turnId === end.turnId);
    checkTurn(cancelled);
    await checkStored(client, cancelled);
    gw.emulator.enqueue(plain('Back again.'));
    const next = await client.chat('still there?');
    expect(checkTurn(next).end.stopReason).toBe('end_turn');
    // What the user saw of the cancelled answer is what the model sees of it next.
    const body = gw.emulator.requests.at(-1)!.body as {
      messages: { role: string; content: { text?: string }[] }[];
    };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(body.messages[1]!.content[0]!.text).toBe(end.text);
    expect(end.text).not.toBe('');
  });

  it('sends identical frames to two sockets on one conversation', async () => {
    const a = await gw.connect();
    const b = await gw.connect();
    const conversationId = a.ready.conversationId;
    gw.emulator.enqueue(plain('first answer'));
    await a.chat('make it exist');
    b.send({ type: 'subscribe', conversationId });
    await b.next((f) => f.type === 'subscribed');
    gw.emulator.enqueue({ blocks: [{ text: 'shared answer for both' }], chunkChars: 3 });
    const framesA = await a.chat('for both of you');
    const framesB = await b.turnFrames(framesA[0]!.turnId as string);
    expect(framesB).toEqual(framesA);
    checkTurn(framesB);
  });

  it('resumes after a disconnect from afterSeq with no gap and no duplicate', async () => {
    const a = await gw.connect();
    const conversationId = a.ready.conversationId;
    gw.emulator.enqueue({
      blocks: [{ text: 'a fairly long answer that streams in many small pieces' }],
      chunkChars: 2,
      delayMs: 5,
    });
    a.send({ type: 'chat', content: 'stream it' });
    const seen = await a.next((f) => f.type === 'token' && (f.seq as number) >= 5);
    await a.close();
    const b = await gw.connect();
    b.send({ type: 'subscribe', conversationId, afterSeq: seen.seq });
    const subscribed = await b.next((f) => f.type === 'subscribed');
    expect(subscribed.conversationId).toBe(conversationId);
    const end = await b.next((f) => f.type === 'turn-end');
    const resumed = b.frames.filter((f) => f.turnId === end.turnId);
    expect(resumed[0]!.seq).toBe((seen.seq as number) + 1);
    const before = a.frames.filter(
      (f) => f.turnId === end.turnId && (f.seq as number) <= (seen.seq as number),
    );
    checkTurn([...before, ...resumed]);
  });

  it('completes and stores a turn whose socket closed mid-turn', async () => {
    const a = await gw.connect();
    const conversationId = a.ready.conversationId;
    gw.emulator.enqueue({ blocks: [{ text: 'finished without you' }], chunkChars: 2, delayMs: 10 });
    a.send({ type: 'chat', content: 'I will leave' });
    await a.next((f) => f.type === 'token');
    await a.close();
    const b = await gw.connect();
    for (let i = 0; i < 50; i++) {
      b.send({ type: 'history', conversationId });
      const history = await b.next((f) => f.type === 'history', 5_000, b.frames.length);
      const messages = history.messages as { role: string; content: string }[];
      if (messages.length === 2) {
        expect(messages.map((m) => [m.role, m.content])).toEqual([
          ['user', 'I will leave'],
          ['assistant', 'finished without you'],
        ]);
        return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the turn was not stored');
  });

  it('answers history with the messages of the conversation, tool calls included', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(
      {
        blocks: [
          { text: 'Computing.' },
          { toolUse: { toolUseId: 'tu_9', name: 'calculator', input: { expression: '2+2' } } },
        ],
      },
      plain('It is 4.'),
    );
    await client.chat('2+2?');
    client.send({ type: 'history', conversationId: client.ready.conversationId });
    const history = await client.next((f) => f.type === 'history');
    expect(ServerFrame.safeParse(history).success).toBe(true);
    const messages = history.messages as Record<string, unknown>[];
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(messages[1]).toMatchObject({
      content: 'Computing.',
      toolCalls: [{ id: 'tu_9', name: 'calculator', input: { expression: '2+2' } }],
    });
    expect(messages[2]).toMatchObject({ content: '4', toolCallId: 'tu_9', name: 'calculator' });
    client.send({ type: 'history', conversationId: client.ready.conversationId, limit: 1 });
    const last = await client.next((f) => f.type === 'history', 5_000, client.frames.length);
    expect((last.messages as { content: string }[]).map((m) => m.content)).toEqual(['It is 4.']);
  });

  it('answers history without conversationId with the conversation ready named', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(plain('kept in the ready conversation'));
    await client.chat('where does this go?');
    client.send({ type: 'history' });
    const history = await client.next((f) => f.type === 'history');
    expect(history.conversationId).toBe(client.ready.conversationId);
    expect((history.messages as { content: string }[]).map((m) => m.content)).toEqual([
      'where does this go?',
      'kept in the ready conversation',
    ]);
  });

  it('sends replay_gap when the frames after afterSeq are no longer retained', async () => {
    const client = await gw.connect();
    const text = 'x'.repeat(1100);
    gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 1 });
    await client.chat('many frames');
    const other = await gw.connect();
    other.send({ type: 'subscribe', conversationId: client.ready.conversationId, afterSeq: 1 });
    const subscribed = await other.next((f) => f.type === 'subscribed');
    expect(subscribed.firstRetainedSeq).toBeGreaterThan(2);
    const gap = await other.next((f) => f.type === 'error');
    expect(gap.code).toBe('replay_gap');
    expect(other.frames.filter((f) => f.type === 'token')).toHaveLength(0);
  });
});

describe('Bedrock errors inside a turn', () => {
  const cases: [string, Reply, string, boolean][] = [
    ['access denied', { error: 'AccessDeniedException' }, 'aws_access_denied', false],
    ['throttling', { error: 'ThrottlingException' }, 'bedrock_throttled', true],
    ['a validation error', { error: 'ValidationException' }, 'model_error', false],
  ];
  it.each(cases)(
    'surfaces %s as one error then turn-end error',
    async (_n, reply, code, retryable) => {
      const client = await gw.connect();
      gw.emulator.enqueue(reply);
      const frames = await client.chat('fail please');
      await checkStored(client, frames);
      const { end } = checkTurn(frames);
      const errors = frames.filter((f) => f.type === 'error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code, retryable });
      if (code !== 'model_error') expect((errors[0]!.hints as string[]).length).toBeGreaterThan(0);
      expect(end.stopReason).toBe('error');
    },
  );

  it('keeps the text sent before a mid-stream failure, and the next turn works', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue({
      blocks: [{ text: 'partial words here' }],
      chunkChars: 4,
      failAfterEvents: { events: 4, exception: 'modelStreamErrorException' },
    });
    const failed = await client.chat('break midway');
    await checkStored(client, failed);
    const { end, text } = checkTurn(failed);
    expect(end.stopReason).toBe('error');
    expect(text.length).toBeGreaterThan(0);
    gw.emulator.enqueue(plain('Recovered.'));
    const next = checkTurn(await client.chat('try again'));
    expect(next.end.text).toBe('Recovered.');
    const body = gw.emulator.requests.at(-1)!.body as { messages: { role: string }[] };
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });
});

describe('limits', () => {
  it('refuses frames over the rate with rate_limited', async () => {
    const client = await gw.connect();
    for (let i = 0; i < 60; i++) client.send({ type: 'ping', id: i });
    const limited = await client.next((f) => f.type === 'error' && f.code === 'rate_limited');
    expect(limited.retryable).toBe(true);
    expect(client.frames.filter((f) => f.type === 'pong').length).toBeLessThanOrEqual(41);
  });

  it('reuses Bedrock connections across turns', async () => {
    const client = await gw.connect();
    await client.chat('warm up');
    const before = gw.emulator.connections;
    for (let i = 0; i < 10; i++) {
      gw.emulator.enqueue(plain(`answer ${i}`));
      await client.chat(`question ${i}`);
    }
    expect(gw.emulator.connections - before).toBeLessThanOrEqual(1);
  });
});

describe('REST', () => {
  it('serves health, ready, models and metrics', async () => {
    expect(await (await fetch(`${gw.url}/health`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`${gw.url}/ready`)).status).toBe(200);
    const models = (await (await fetch(`${gw.url}/v1/models`)).json()) as {
      models: { id: string }[];
    };
    expect(models.models.map((m) => m.id)).toEqual(gw.config.bedrock.models.map((m) => m.id));
    const client = await gw.connect();
    gw.emulator.enqueue(plain('counted'));
    await client.chat('count me');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toContain('agentgate_process_cpu');
    expect(metrics).toMatch(/agentgate_turns_total\{stop_reason="end_turn"\} [1-9]/);
    expect(metrics).toMatch(/agentgate_sockets_open [1-9]/);
    expect(metrics).toMatch(/agentgate_frames_sent_total [1-9]/);
    expect(metrics).toMatch(/agentgate_time_to_first_token_seconds_count [1-9]/);
  });

  it('refuses to delete a conversation while a turn runs, then deletes it once cancelled', async () => {
    const client = await gw.connect();
    const id = client.ready.conversationId;
    gw.emulator.enqueue(hang);
    client.send({ type: 'chat', content: 'take long' });
    await client.next((f) => f.type === 'token');
    const busy = await fetch(`${gw.url}/v1/conversations/${id}`, { method: 'DELETE' });
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({
      error: { code: 'turn_in_progress', retryable: true },
    });
    client.send({ type: 'cancel', conversationId: id });
    await client.next((f) => f.type === 'turn-end');
    expect((await fetch(`${gw.url}/v1/conversations/${id}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect((await fetch(`${gw.url}/v1/conversations/${id}/messages`)).status).toBe(404);
  });

  it('lists and deletes a conversation', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue(plain('stored'));
    await client.chat('keep this');
    const id = client.ready.conversationId;
    const listed = (await (await fetch(`${gw.url}/v1/conversations/${id}/messages`)).json()) as {
      messages: { content: string }[];
    };
    expect(listed.messages.map((m) => m.content)).toEqual(['keep this', 'stored']);
    expect((await fetch(`${gw.url}/v1/conversations/${id}`, { method: 'DELETE' })).status).toBe(
      204,
    );
    expect((await fetch(`${gw.url}/v1/conversations/${id}/messages`)).status).toBe(404);
  });
});

describe('auth and origins', () => {
  let secured: TestGateway;
  beforeAll(async () => {
    secured = await startGateway(
      { AUTH_API_KEYS: 'key-alice:alice,key-bob:bob', ALLOWED_ORIGINS: 'https://app.example' },
      gw.emulator,
    );
  });
  afterAll(async () => {
    await secured.close();
  });

  const refusal = (url: string, headers: Record<string, string> = {}) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      ws.on('unexpected-response', (req, res) => {
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      ws.on('open', () => reject(new Error('upgrade was accepted')));
    });

  it('refuses an upgrade without credentials with 401 and a bad origin with 403', async () => {
    expect(await refusal(secured.wsUrl)).toBe(401);
    expect(await refusal(`${secured.wsUrl}?token=wrong`)).toBe(401);
    expect(
      await refusal(`${secured.wsUrl}?token=key-alice`, { origin: 'https://evil.example' }),
    ).toBe(403);
  });

  it("accepts a token and keeps another user's conversation forbidden", async () => {
    const alice = await TestClient.connect(secured.wsUrl, {
      headers: { authorization: 'Bearer key-alice' },
    });
    const bob = await TestClient.connect(`${secured.wsUrl}?token=key-bob`, {
      headers: { origin: 'https://app.example' },
    });
    expect(alice.ready.userId).toBe('alice');
    gw.emulator.enqueue(plain('private'));
    await alice.chat('secret plans');
    const error = await nextError(bob, {
      type: 'history',
      conversationId: alice.ready.conversationId,
    });
    expect(error.code).toBe('forbidden');
    const rest = await fetch(
      `${secured.url}/v1/conversations/${alice.ready.conversationId}/messages`,
      {
        headers: { authorization: 'Bearer key-bob' },
      },
    );
    expect(rest.status).toBe(404);
    expect((await fetch(`${secured.url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${secured.url}/health`)).status).toBe(200);
    await alice.close();
    await bob.close();
  });
});
