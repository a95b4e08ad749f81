import {
  lastAssistantMessageIsCompleteWithApprovalResponses,
  readUIMessageStream,
  type UIMessageChunk,
} from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentgateMessage,
  chatTransport,
  chunksOf,
  NodeChat,
  textOf,
  userMessage,
} from '../helpers/ai-chat.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame } from '../helpers/ws-client.ts';

// The AI SDK adapter, read by the `ai` package's own client code (DefaultChatTransport,
// readUIMessageStream, the Chat class useChat wraps) against a real gateway and the
// Bedrock emulator.

let gw: TestGateway;
let api: string;

beforeAll(async () => {
  gw = await startGateway({
    AUTH_API_KEYS: 'key-alice:alice,key-bob:bob',
    APPROVAL_REQUIRED_TOOLS: 'current_time',
  });
  api = `${gw.url}/v1/ai-sdk/chat`;
});
afterAll(async () => {
  await gw.close();
});

const newId = () => `chat-${Math.random().toString(36).slice(2)}`;

/** Sends one user message through the transport; the chunks and the message they build. */
async function send(
  text: string,
  options: { id?: string; token?: string; signal?: AbortSignal } = {},
) {
  const transport = chatTransport(api, options.token ?? 'key-alice');
  const stream = await transport.sendMessages({
    chatId: options.id ?? newId(),
    messages: [userMessage(text)],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: options.signal,
  });
  return read(stream);
}

/** Reads a stream with readUIMessageStream, keeping the chunks and the errors it reports. */
async function read(stream: ReadableStream<UIMessageChunk>, message?: AgentgateMessage) {
  const [forMessage, forChunks] = stream.tee();
  const errors: Error[] = [];
  let last: AgentgateMessage | undefined;
  const chunks = chunksOf(forChunks);
  for await (const snapshot of readUIMessageStream<AgentgateMessage>({
    stream: forMessage,
    ...(message ? { message } : {}),
    onError: (error) => errors.push(error as Error),
  })) {
    last = snapshot;
  }
  return { message: last, chunks: await chunks, errors };
}

/** The `error` of a refusal's JSON body. */
async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

const types = (chunks: UIMessageChunk[]) => chunks.map((c) => c.type);

/** A raw request to an adapter route, for what a client library would not send. */
async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer key-alice', ...headers },
    body,
  });
  return { status: response.status, body: await response.text(), headers: response.headers };
}

describe('the AI SDK UI message stream', () => {
  it('streams an answer as one assistant message, with the turn in its metadata', async () => {
    const id = newId();
    const { message, chunks, errors } = await send('hello there', { id });
    expect(errors).toEqual([]);
    expect(types(chunks)[0]).toBe('start');
    expect(types(chunks).slice(-2)).toEqual(['finish-step', 'finish']);
    expect(types(chunks)).toContain('text-delta');
    const text = textOf(message);
    expect(text).toContain('You said: "hello there"');
    expect(message?.metadata).toMatchObject({
      conversationId: id,
      stopReason: 'end_turn',
      usage: { totalTokens: expect.any(Number) },
    });
    expect(message?.id).toBe(message?.metadata?.turnId);
    // The conversation was created for the caller under the client's id, with the answer.
    const history = await fetch(`${gw.url}/v1/conversations/${id}/messages`, {
      headers: { authorization: 'Bearer key-alice' },
    }).then((r) => r.json() as Promise<{ messages: { role: string; content: string }[] }>);
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(history.messages[1]?.content).toBe(text);
  });

  it('shows a tool call as a dynamic tool part, its step before the answer', async () => {
    const { message, errors } = await send('what is (12+30)*2?');
    expect(errors).toEqual([]);
    const parts = message?.parts ?? [];
    const tool = parts.find((p) => p.type === 'dynamic-tool');
    expect(tool).toMatchObject({
      type: 'dynamic-tool',
      toolName: 'calculator',
      state: 'output-available',
      input: { expression: '(12+30)*2' },
      output: '84',
    });
    expect(parts.filter((p) => p.type === 'step-start')).toHaveLength(2);
    expect(textOf(message)).toContain('The answer is 84.');
    expect(message?.metadata?.stopReason).toBe('end_turn');
  });

  it('sends reasoning as a reasoning part, never as text', async () => {
    gw.emulator.enqueue({ blocks: [{ reasoning: 'Think first.' }, { text: 'Answer.' }] });
    const { message, errors } = await send('think');
    expect(errors).toEqual([]);
    expect(message?.parts.filter((p) => p.type !== 'step-start')).toMatchObject([
      { type: 'reasoning', text: 'Think first.', state: 'done' },
      { type: 'text', text: 'Answer.', state: 'done' },
    ]);
  });
});

/** A reply that streams slowly: about a second of text, so a test can act during the turn. */
function slowReply(text = 'one two three four five six seven eight nine ten eleven twelve.') {
  gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 4, delayMs: 60 });
  return text;
}

/** Starts a slow turn over the AI SDK in a new conversation a socket watches. */
async function slowTurn(token = 'key-alice') {
  const ws = await gw.connect(`?token=${token}`);
  const id = ws.ready.conversationId;
  ws.send({ type: 'subscribe', conversationId: id });
  await ws.next((f) => f.type === 'subscribed');
  slowReply();
  const reading = chatTransport(api, token)
    .sendMessages({
      chatId: id,
      messages: [userMessage('tell me slowly')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    })
    .then(read);
  const token1 = await ws.next((f) => f.type === 'token');
  return { ws, id, turnId: token1.turnId as string, reading };
}

describe('errors and the turn life', () => {
  it('sends a Bedrock error as an error chunk, its code in the message metadata', async () => {
    gw.emulator.enqueue({ error: 'AccessDeniedException' });
    const { message, chunks, errors } = await send('fail please');
    const error = chunks.find((c) => c.type === 'error');
    expect(error).toMatchObject({ type: 'error', errorText: expect.stringMatching(/\S/) });
    expect(errors.map((e) => e.message)).toEqual([(error as { errorText: string }).errorText]);
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'error' });
    expect(message?.metadata).toMatchObject({
      stopReason: 'error',
      error: { code: 'aws_access_denied', retryable: false },
    });
  });

  it('resumes the running turn after the request is dropped, the turn not cancelled', async () => {
    const id = newId();
    const text = slowReply();
    const dropped = new AbortController();
    const transport = chatTransport(api, 'key-alice');
    const stream = await transport.sendMessages({
      chatId: id,
      messages: [userMessage('tell me slowly')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: dropped.signal,
    });
    const reader = stream.getReader();
    const seen: UIMessageChunk[] = [];
    while (!seen.some((c) => c.type === 'text-delta')) seen.push((await reader.read()).value!);
    dropped.abort();
    await reader.cancel().catch(() => undefined);

    const resumed = await transport.reconnectToStream({ chatId: id });
    expect(resumed).not.toBeNull();
    const { message, chunks } = await read(resumed!);
    // From the turn's first frame: the whole answer, the same message.
    expect(types(chunks)[0]).toBe('start');
    expect(textOf(message)).toBe(text);
    expect(message?.metadata).toMatchObject({ stopReason: 'end_turn' });
    // Nothing runs any more: 204, which the transport reads as "no stream".
    expect(await transport.reconnectToStream({ chatId: id })).toBeNull();
  });

  it('answers 204 to a resume of a conversation that does not exist yet', async () => {
    const transport = chatTransport(api, 'key-alice');
    expect(await transport.reconnectToStream({ chatId: newId() })).toBeNull();
  });

  it('ends a turn cancelled from a WebSocket with an abort chunk', async () => {
    const { ws, id, reading } = await slowTurn();
    ws.send({ type: 'cancel', conversationId: id });
    const { chunks, message } = await reading;
    expect(chunks.at(-1)).toMatchObject({ type: 'abort', reason: 'cancelled' });
    expect(message?.metadata?.stopReason).toBe('cancelled');
  });
});

/** `POST /v1/conversations/:id/cancel`, as a page wires useChat's `stop()` to it. */
async function cancel(id: string, options: { token?: string; body?: unknown } = {}) {
  const response = await fetch(`${gw.url}/v1/conversations/${encodeURIComponent(id)}/cancel`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${options.token ?? 'key-alice'}`,
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('cancelling over HTTP', () => {
  it('stops a turn started over the AI SDK: the stream ends with abort, sockets see it', async () => {
    const { ws, id, turnId, reading } = await slowTurn();
    const answer = await cancel(id);
    expect(answer).toEqual({ status: 202, body: { conversationId: id, turnId } });
    const { chunks, message } = await reading;
    expect(chunks.at(-1)).toMatchObject({ type: 'abort', reason: 'cancelled' });
    expect(message?.metadata?.stopReason).toBe('cancelled');
    const end = await ws.next((f) => f.type === 'turn-end' && f.turnId === turnId);
    expect(end.stopReason).toBe('cancelled');
    // The conversation takes the next message at once: no 409.
    gw.emulator.enqueue({ blocks: [{ text: 'Next.' }] });
    const next = await send('next', { id });
    expect(textOf(next.message)).toBe('Next.');
  });

  it("answers 404 for another user's conversation, and leaves its turn running", async () => {
    const { id, turnId, reading } = await slowTurn();
    const bob = await cancel(id, { token: 'key-bob' });
    expect(bob.status).toBe(404);
    expect(bob.body.error).toMatchObject({ code: 'not_found', message: 'No such conversation.' });
    // Only a turn the caller names is stopped: an older turn id stops nothing.
    expect(await cancel(id, { body: { turnId: 't_not_this_one' } })).toEqual({
      status: 204,
      body: undefined,
    });
    expect((await cancel(id, { body: { turnId } })).status).toBe(202);
    expect((await reading).message?.metadata?.stopReason).toBe('cancelled');
  });

  it('answers 204 when no turn runs: an ended turn, a conversation not created yet', async () => {
    const id = newId();
    await send('hello', { id });
    expect(await cancel(id)).toEqual({ status: 204, body: undefined });
    expect(await cancel(newId(), { body: {} })).toEqual({ status: 204, body: undefined });
  });

  it.each([
    ['an id with a colon first', ':x', undefined],
    ['a body with another field', 'chat-x', { turn: 't_1' }],
    ['a turnId that is not a string', 'chat-x', { turnId: 7 }],
    ['a body that is not an object', 'chat-x', ['t_1']],
  ])('answers 400 bad_frame to %s', async (_what, id, body) => {
    const answer = await cancel(id, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.code).toBe('bad_frame');
  });
});

describe('the same turn over WebSocket and SSE', () => {
  it('a WebSocket subscriber sees a turn started over SSE: the same text and seq', async () => {
    const ws = await gw.connect('?token=key-alice');
    const id = ws.ready.conversationId;
    ws.send({ type: 'subscribe', conversationId: id });
    await ws.next((f) => f.type === 'subscribed');
    const { message } = await send('what is (12+30)*2?', { id });
    const turnId = message?.metadata?.turnId;
    const frames = await ws.turnFrames(turnId!);
    const { text, end } = checkTurn(frames);
    expect(textOf(message)).toBe(text);
    expect(message?.metadata?.seq).toBe(end.seq);
    expect(frames[0]?.seq).toBe(1);
    const tool = message?.parts.find((p) => p.type === 'dynamic-tool');
    const toolEnd = frames.find((f: Frame) => f.type === 'tool-end');
    expect(tool).toMatchObject({ toolCallId: toolEnd?.toolCallId, output: toolEnd?.output });
  });

  it('an SSE resume sees a turn started over WebSocket', async () => {
    const ws = await gw.connect('?token=key-alice');
    const id = ws.ready.conversationId;
    slowReply();
    const turn = ws.chat('tell me slowly');
    await ws.next((f) => f.type === 'token');
    const resumed = await chatTransport(api, 'key-alice').reconnectToStream({ chatId: id });
    const { message } = await read(resumed!);
    const frames = await turn;
    const end = frames.at(-1)!;
    expect(textOf(message)).toBe(end.text);
    expect(message?.metadata).toMatchObject({ turnId: end.turnId, seq: end.seq });
  });
});

describe('tool approval with the Chat class useChat wraps', () => {
  /** A chat that sends approval answers on its own, as useChat's option does. */
  async function asking(question: string) {
    const chat = new NodeChat({
      id: newId(),
      api,
      token: 'key-alice',
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
    });
    await chat.sendMessage({ text: question });
    await chat.settled();
    return chat;
  }

  /** Answers the request for approval, then waits for the turn that follows it. */
  async function answer(
    chat: NodeChat,
    response: { id: string; approved: boolean; reason?: string },
  ) {
    await chat.addToolApprovalResponse(response);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await chat.settled();
  }

  it('asks with tool-approval-request, ends the response, and goes on once approved', async () => {
    const chat = await asking('what time is it in Tokyo?');
    const asked = chat.lastAssistant!;
    const part = asked.parts.find((p) => p.type === 'dynamic-tool');
    expect(part).toMatchObject({ toolName: 'current_time', state: 'approval-requested' });
    expect(asked.metadata?.awaitingApproval).toEqual([(part as { toolCallId: string }).toolCallId]);

    await answer(chat, { id: (part as { approval: { id: string } }).approval.id, approved: true });
    expect(chat.errors).toEqual([]);
    const answered = chat.lastAssistant!;
    expect(answered.id).toBe(asked.id);
    expect(answered.parts.find((p) => p.type === 'dynamic-tool')).toMatchObject({
      state: 'output-available',
      output: expect.stringMatching(/^\d{4}-/),
    });
    expect(textOf(answered)).toMatch(/It is \d\d:\d\d:\d\d in Asia\/Tokyo\./);
    expect(answered.metadata?.stopReason).toBe('end_turn');
  });

  it('shows a rejection as a denied tool call', async () => {
    const chat = await asking('what time is it in Paris?');
    const part = chat.lastAssistant!.parts.find((p) => p.type === 'dynamic-tool') as {
      approval: { id: string };
    };
    await answer(chat, { id: part.approval.id, approved: false, reason: 'no' });
    const answered = chat.lastAssistant!;
    expect(answered.parts.find((p) => p.type === 'dynamic-tool')).toMatchObject({
      state: 'output-denied',
    });
    expect(textOf(answered)).toContain('rejected');
  });

  it('refuses answers for a request nobody made with 409 no_pending_approval', async () => {
    const id = newId();
    await send('hello', { id });
    const body = JSON.stringify({
      id,
      messages: [
        {
          id: 'm1',
          role: 'assistant',
          parts: [
            {
              type: 'dynamic-tool',
              toolName: 'calculator',
              toolCallId: 'tooluse_nothing',
              state: 'approval-responded',
              input: {},
              approval: { id: 'tooluse_nothing', approved: true },
            },
          ],
        },
      ],
    });
    const answer = await post('/v1/ai-sdk/chat', body);
    expect(answer.status).toBe(409);
    expect(JSON.parse(answer.body).error.code).toBe('no_pending_approval');
  });
});

describe('bad input, auth and ownership', () => {
  const valid = (id = newId(), text = 'hi') => ({
    id,
    messages: [userMessage(text)],
    trigger: 'submit-message',
  });

  it.each([
    ['not JSON', '{"id": "x", '],
    ['a JSON array', '[]'],
    ['no id', JSON.stringify({ messages: [userMessage('hi')] })],
    ['an id with a slash', JSON.stringify({ ...valid(), id: 'a/b' })],
    ['no messages', JSON.stringify({ id: newId(), messages: [] })],
    ['a message without parts', JSON.stringify({ id: newId(), messages: [{ role: 'user' }] })],
    [
      'a last message that is the assistant without answers',
      JSON.stringify({ id: newId(), messages: [{ id: 'a', role: 'assistant', parts: [] }] }),
    ],
    [
      'a user message without text',
      JSON.stringify({ id: newId(), messages: [{ id: 'u', role: 'user', parts: [] }] }),
    ],
    ['text over 32,000 characters', JSON.stringify(valid(newId(), 'x'.repeat(32_001)))],
    ['a model that is not a string', JSON.stringify({ ...valid(), model: 7 })],
  ])('answers 400 bad_frame to %s', async (_what, body) => {
    const answer = await post('/v1/ai-sdk/chat', body);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { code: 'bad_frame', message: expect.any(String), retryable: false },
    });
  });

  it('answers 400 bad_frame to a body that is not JSON by its content type', async () => {
    const answer = await post('/v1/ai-sdk/chat', 'hello', { 'content-type': 'text/plain' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error.code).toBe('bad_frame');
  });

  it('answers 400 unknown_model and unknown_agent as a chat frame would be', async () => {
    const model = await post('/v1/ai-sdk/chat', JSON.stringify({ ...valid(), model: 'nope' }));
    expect(model.status).toBe(400);
    expect(JSON.parse(model.body).error.code).toBe('unknown_model');
    const agent = await post('/v1/ai-sdk/chat', JSON.stringify({ ...valid(), agent: 'nope' }));
    expect(JSON.parse(agent.body).error.code).toBe('unknown_agent');
  });

  it('answers 401 unauthorized without a token, through the transport too', async () => {
    const answer = await post('/v1/ai-sdk/chat', JSON.stringify(valid()), { authorization: '' });
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body).error.code).toBe('unauthorized');
    const resume = await fetch(`${api}/${newId()}/stream`);
    expect(resume.status).toBe(401);
    const transport = chatTransport(api);
    await expect(transport.reconnectToStream({ chatId: newId() })).rejects.toThrow(/unauthorized/);
  });

  it("answers 404 for another user's conversation, on chat and resume alike", async () => {
    const id = newId();
    await send('mine', { id, token: 'key-alice' });
    const chat = await post('/v1/ai-sdk/chat', JSON.stringify(valid(id)), {
      authorization: 'Bearer key-bob',
    });
    expect(chat.status).toBe(404);
    expect(JSON.parse(chat.body).error.code).toBe('not_found');
    const resume = await fetch(`${api}/${id}/stream`, {
      headers: { authorization: 'Bearer key-bob' },
    });
    expect(resume.status).toBe(404);
    // Nor may Bob take the conversation a WebSocket `ready` issued to Alice.
    const ws = await gw.connect('?token=key-alice');
    const issued = await post('/v1/ai-sdk/chat', JSON.stringify(valid(ws.ready.conversationId)), {
      authorization: 'Bearer key-bob',
    });
    expect(issued.status).toBe(404);
  });

  it('gives a new id two users name at once to one of them; the other gets 404', async () => {
    for (let i = 0; i < 5; i++) {
      const id = newId();
      const [alice, bob] = await Promise.all([
        post('/v1/ai-sdk/chat', JSON.stringify(valid(id))),
        post('/v1/ai-sdk/chat', JSON.stringify(valid(id)), { authorization: 'Bearer key-bob' }),
      ]);
      expect([alice.status, bob.status].sort()).toEqual([200, 404]);
    }
  });

  it('answers 409 turn_in_progress to a second chat while a turn runs', async () => {
    const id = newId();
    slowReply();
    const first = send('tell me slowly', { id });
    // The first turn has started once its conversation has history.
    const ws = await gw.connect('?token=key-alice');
    await expect
      .poll(async () => {
        ws.send({ type: 'subscribe', conversationId: id });
        const answer = await ws.next(
          (f) => (f.type === 'subscribed' || f.type === 'error') && f.conversationId === id,
          2_000,
          ws.frames.length,
        );
        return answer.type === 'subscribed' && answer.runningTurnId !== null;
      })
      .toBe(true);
    const second = await post('/v1/ai-sdk/chat', JSON.stringify(valid(id)));
    expect(second.status).toBe(409);
    expect(JSON.parse(second.body).error).toMatchObject({
      code: 'turn_in_progress',
      retryable: true,
    });
    expect((await first).message?.metadata?.stopReason).toBe('end_turn');
  });
});

describe('origins, sizes and rates', () => {
  let limited: TestGateway;
  beforeAll(async () => {
    limited = await startGateway({
      ALLOWED_ORIGINS: 'https://good.example',
      MAX_FRAME_BYTES: '1024',
      MAX_SOCKETS_PER_USER: '1',
      RATE_LIMIT_FRAMES_PER_SEC: '2',
    });
  });
  afterAll(async () => {
    await limited.close();
  });

  const request = (path: string, init: RequestInit & { origin?: string } = {}) =>
    fetch(`${limited.url}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(init.origin ? { origin: init.origin } : {}),
        ...(init.headers as Record<string, string>),
      },
    });

  /** `agentgate_sse_streams_open` of the limited gateway (not rate limited: /metrics). */
  const streamsOpen = async () => {
    const text = await fetch(`${limited.url}/metrics`).then((r) => r.text());
    return Number(/^agentgate_sse_streams_open (\d+)/m.exec(text)?.[1]);
  };

  it('refuses an Origin not in ALLOWED_ORIGINS with 403, preflight and request alike', async () => {
    const preflight = await request('/v1/ai-sdk/chat', {
      method: 'OPTIONS',
      origin: 'https://evil.example',
      headers: { 'access-control-request-method': 'POST' },
    });
    expect(preflight.status).toBe(403);
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
    const chat = await request('/v1/ai-sdk/chat', {
      method: 'POST',
      origin: 'https://evil.example',
      body: JSON.stringify({ id: newId(), messages: [userMessage('hi')] }),
    });
    expect(chat.status).toBe(403);
    expect((await errorOf(chat)).code).toBe('forbidden');
    const cancel = await request(`/v1/conversations/${newId()}/cancel`, {
      method: 'POST',
      origin: 'https://evil.example',
    });
    expect(cancel.status).toBe(403);
    expect((await errorOf(cancel)).code).toBe('forbidden');
  });

  it('answers the preflight of an allowed origin, and its request with CORS headers', async () => {
    const preflight = await request('/v1/ai-sdk/chat', {
      method: 'OPTIONS',
      origin: 'https://good.example',
      headers: {
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://good.example');
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const resume = await request(`/v1/ai-sdk/chat/${newId()}/stream`, {
      origin: 'https://good.example',
    });
    expect(resume.status).toBe(204);
    expect(resume.headers.get('access-control-allow-origin')).toBe('https://good.example');
    // The cancel route too: a page on another origin can stop what it streams.
    const cancelPreflight = await request(`/v1/conversations/${newId()}/cancel`, {
      method: 'OPTIONS',
      origin: 'https://good.example',
      headers: { 'access-control-request-method': 'POST' },
    });
    expect(cancelPreflight.status).toBe(204);
    expect(cancelPreflight.headers.get('access-control-allow-origin')).toBe('https://good.example');
  });

  it('answers 413 frame_too_large to a body over MAX_FRAME_BYTES', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // a fresh rate window
    const answer = await request('/v1/ai-sdk/chat', {
      method: 'POST',
      body: JSON.stringify({ id: newId(), messages: [userMessage('x'.repeat(2_000))] }),
    });
    expect(answer.status).toBe(413);
    expect(await errorOf(answer)).toMatchObject({ code: 'frame_too_large' });
  });

  it('limits open streams (MAX_SOCKETS_PER_USER) and requests per second', async () => {
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // a fresh rate window
    limited.emulator.enqueue({
      blocks: [{ text: 'slow '.repeat(20) }],
      chunkChars: 5,
      delayMs: 50,
    });
    const open = new AbortController();
    const first = await request('/v1/ai-sdk/chat', {
      method: 'POST',
      body: JSON.stringify({ id: newId(), messages: [userMessage('slowly')] }),
      signal: open.signal,
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    expect(await streamsOpen()).toBe(1);
    const second = await request(`/v1/ai-sdk/chat/${newId()}/stream`);
    expect(second.status).toBe(429);
    expect((await errorOf(second)).code).toBe('rate_limited');
    open.abort();
    // The dropped stream is no longer counted.
    await expect.poll(streamsOpen).toBe(0);
    // Two a second, bursts of four: the next ones are over.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await request(`/v1/ai-sdk/chat/${newId()}/stream`)).status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect(statuses).toContain(204);
    // The cancel route counts against the same limit.
    const cancel = await request(`/v1/conversations/${newId()}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(429);
  });
});

describe('shutdown', () => {
  it('ends an open stream with an error chunk saying to resume elsewhere', async () => {
    const own = await startGateway({});
    own.emulator.enqueue({ blocks: [{ text: 'slow '.repeat(30) }], chunkChars: 5, delayMs: 50 });
    const stream = await chatTransport(`${own.url}/v1/ai-sdk/chat`).sendMessages({
      chatId: newId(),
      messages: [userMessage('slowly')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    });
    const [forRead, forStart] = stream.tee();
    const reading = read(forRead);
    const reader = forStart.getReader();
    while ((await reader.read()).value?.type !== 'text-delta');
    // Not cancelled: a tee branch's cancel waits for the other branch to end.
    reader.releaseLock();
    await own.close();
    const { chunks, message } = await reading;
    expect(chunks.find((c) => c.type === 'error')).toMatchObject({
      errorText: expect.stringMatching(/shutting down/),
    });
    expect(chunks.at(-1)).toMatchObject({ type: 'finish', finishReason: 'error' });
    expect(message?.metadata?.error?.code).toBe('unavailable');
  });
});
