import http from 'node:http';
import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BENCH_TOOL,
  type BedrockErrorName,
  type BenchShape,
  benchReply,
  benchText,
  type Emulator,
  startEmulator,
} from './emulator/index.ts';
import { splitText } from './emulator/reply-plan.ts';

const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const ARN = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123';

const TOOLS: ToolConfiguration = {
  tools: [
    {
      toolSpec: {
        name: 'current_time',
        description: 'Current time',
        inputSchema: { json: { type: 'object', properties: { timezone: { type: 'string' } } } },
      },
    },
    {
      toolSpec: {
        name: 'calculator',
        description: 'Arithmetic',
        inputSchema: { json: { type: 'object', properties: { expression: { type: 'string' } } } },
      },
    },
  ],
};

let emulator: Emulator;
const clients: BedrockRuntimeClient[] = [];

function client(config: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient {
  const created = new BedrockRuntimeClient({
    endpoint: emulator.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
    maxAttempts: 1,
    ...config,
  });
  clients.push(created);
  return created;
}

function http1Client(config: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient {
  return client({
    requestHandler: new NodeHttpHandler({ httpAgent: new http.Agent({ keepAlive: true }) }),
    ...config,
  });
}

function user(text: string): Message {
  return { role: 'user', content: [{ text }] };
}

function input(messages: Message[], extra: Partial<ConverseCommandInput> = {}) {
  return { modelId: MODEL, messages, ...extra };
}

interface Collected {
  text: string;
  textDeltas: string[];
  reasoning: string;
  signature: string;
  toolUses: { toolUseId?: string; name?: string; input: unknown }[];
  stopReason?: string;
  usage?: { inputTokens?: number; outputTokens?: number; totalTokens?: number };
  eventCount: number;
}

/** Reassembles a ConverseStream the way a consumer of the SDK would. */
async function collect(
  stream: AsyncIterable<ConverseStreamOutput> | undefined,
): Promise<Collected> {
  const out: Collected = {
    text: '',
    textDeltas: [],
    reasoning: '',
    signature: '',
    toolUses: [],
    eventCount: 0,
  };
  let toolInput = '';
  for await (const event of stream ?? []) {
    out.eventCount++;
    if (event.contentBlockStart?.start?.toolUse) {
      toolInput = '';
      out.toolUses.push({ ...event.contentBlockStart.start.toolUse, input: undefined });
    }
    const delta = event.contentBlockDelta?.delta;
    if (delta?.text !== undefined) {
      out.text += delta.text;
      out.textDeltas.push(delta.text);
    }
    if (delta?.toolUse) toolInput += delta.toolUse.input ?? '';
    if (delta?.reasoningContent?.text) out.reasoning += delta.reasoningContent.text;
    if (delta?.reasoningContent?.signature) out.signature += delta.reasoningContent.signature;
    const current = out.toolUses.at(-1);
    if (event.contentBlockStop && current && current.input === undefined) {
      current.input = JSON.parse(toolInput);
    }
    if (event.messageStop) out.stopReason = event.messageStop.stopReason;
    if (event.metadata) out.usage = event.metadata.usage;
  }
  return out;
}

async function stream(bedrock: BedrockRuntimeClient, messages: Message[], extra = {}) {
  const response = await bedrock.send(new ConverseStreamCommand(input(messages, extra)));
  return collect(response.stream);
}

async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});

afterAll(async () => {
  await emulator.close();
});

beforeEach(() => {
  emulator.reset();
});

afterEach(() => {
  for (const created of clients.splice(0)) created.destroy();
});

describe('converse', () => {
  it('answers a scripted text as JSON with usage', async () => {
    emulator.enqueue({ blocks: [{ text: 'Hello from the emulator.' }] });
    const response = await client().send(new ConverseCommand(input([user('Say hello.')])));
    expect(response.output?.message?.role).toBe('assistant');
    expect(response.output?.message?.content).toEqual([{ text: 'Hello from the emulator.' }]);
    expect(response.stopReason).toBe('end_turn');
    expect(response.usage).toEqual({ inputTokens: 3, outputTokens: 6, totalTokens: 9 });
    expect(typeof response.metrics?.latencyMs).toBe('number');
  });

  it('answers tool use with its input intact and stop reason tool_use', async () => {
    const toolInput = { expression: '(12+30)*2', nested: { list: [1, 'two', null], ok: true } };
    emulator.enqueue({
      blocks: [{ text: 'Calculating.' }, { toolUse: { name: 'calculator', input: toolInput } }],
    });
    const response = await client().send(
      new ConverseCommand(input([user('What is (12+30)*2?')], { toolConfig: TOOLS })),
    );
    const [text, use] = response.output?.message?.content ?? [];
    expect(text).toEqual({ text: 'Calculating.' });
    expect(use?.toolUse?.name).toBe('calculator');
    expect(use?.toolUse?.input).toEqual(toolInput);
    expect(use?.toolUse?.toolUseId).toMatch(/^tooluse_[A-Za-z0-9_-]{22}$/);
    expect(response.stopReason).toBe('tool_use');
  });

  it('answers reasoning blocks with their signature', async () => {
    emulator.enqueue({
      blocks: [{ reasoning: 'The user greets me.', signature: 'sig-1' }, { text: 'Hi!' }],
      usage: { inputTokens: 11, outputTokens: 7 },
    });
    const response = await client().send(new ConverseCommand(input([user('Hi')])));
    expect(response.output?.message?.content).toEqual([
      { reasoningContent: { reasoningText: { text: 'The user greets me.', signature: 'sig-1' } } },
      { text: 'Hi!' },
    ]);
    expect(response.usage).toEqual({ inputTokens: 11, outputTokens: 7, totalTokens: 18 });
  });

  it('records the decoded model ARN and the operation', async () => {
    emulator.enqueue({ blocks: [{ text: 'ok' }] });
    await client().send(new ConverseCommand({ modelId: ARN, messages: [user('hi')] }));
    const [record] = await emulator.waitForRequests(1);
    expect(record?.modelId).toBe(ARN);
    expect(record?.operation).toBe('converse');
    expect(record?.body?.messages).toEqual([{ role: 'user', content: [{ text: 'hi' }] }]);
    expect(record?.status).toBe(200);
  });
});

describe('converse-stream', () => {
  it('streams text in deltas that reassemble to the text', async () => {
    emulator.enqueue({ blocks: [{ text: 'Hello, streaming world.' }], chunkChars: 5 });
    const out = await stream(client(), [user('Stream please.')]);
    expect(out.text).toBe('Hello, streaming world.');
    expect(out.textDeltas).toEqual(['Hello', ', str', 'eamin', 'g wor', 'ld.']);
    expect(out.stopReason).toBe('end_turn');
    expect(out.usage?.totalTokens).toBe((out.usage?.inputTokens ?? 0) + 6);
  });

  it('streams CJK text and an emoji ZWJ sequence without breaking a surrogate pair', async () => {
    const text = '東京の天気は晴れです。👩‍👩‍👧‍👦 家族です。';
    emulator.enqueue({ blocks: [{ text }], chunkChars: 3 });
    const out = await stream(client(), [user('Weather?')]);
    expect(out.text).toBe(text);
    expect(out.textDeltas.length).toBeGreaterThan(5);
    for (const delta of out.textDeltas) expect(delta).not.toMatch(LONE_SURROGATE);
    // The family emoji is one grapheme of 11 code units; some delta ends inside it.
    const family = '👩‍👩‍👧‍👦';
    expect(out.textDeltas.some((d) => d.includes('👩') && !d.includes(family))).toBe(true);
  });

  it('streams explicit chunks, including a single-chunk stream', async () => {
    emulator.enqueue(
      { blocks: [{ text: 'one two three' }], chunks: ['one ', 'two ', 'three'] },
      { blocks: [{ text: 'all at once' }], chunks: ['all at once'] },
    );
    const bedrock = client();
    expect((await stream(bedrock, [user('a')])).textDeltas).toEqual(['one ', 'two ', 'three']);
    expect((await stream(bedrock, [user('b')])).textDeltas).toEqual(['all at once']);
  });

  it('refuses chunks that do not join to the text', () => {
    expect(() => emulator.enqueue({ blocks: [{ text: 'abc' }], chunks: ['ab'] })).toThrow(
      /chunks join/,
    );
  });

  it('streams several blocks: text, tool use with JSON input pieces, and reasoning', async () => {
    const toolInput = { timezone: 'Asia/Tokyo', note: '東京 👍', deep: { n: 3.5 } };
    emulator.enqueue({
      blocks: [
        { reasoning: 'Need the time in Tokyo.', signature: 'c2lnbmF0dXJl' },
        { text: 'Checking.' },
        { toolUse: { toolUseId: 'tooluse_fixed', name: 'current_time', input: toolInput } },
      ],
      chunkChars: 6,
    });
    const out = await stream(client(), [user('Time in Tokyo?')], { toolConfig: TOOLS });
    expect(out.reasoning).toBe('Need the time in Tokyo.');
    expect(out.signature).toBe('c2lnbmF0dXJl');
    expect(out.text).toBe('Checking.');
    expect(out.toolUses).toEqual([
      { toolUseId: 'tooluse_fixed', name: 'current_time', input: toolInput },
    ]);
    expect(out.stopReason).toBe('tool_use');
  });

  it('holds the first event back by firstEventDelayMs', async () => {
    emulator.enqueue({ blocks: [{ text: 'abcd' }], firstEventDelayMs: 150 });
    const started = Date.now();
    const out = await stream(client(), [user('wait')]);
    expect(out.text).toBe('abcd');
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('paces events by delayMs', async () => {
    emulator.enqueue({ blocks: [{ text: 'abcdefgh' }], chunkChars: 4, delayMs: 30 });
    const started = Date.now();
    const out = await stream(client(), [user('slow')]);
    // messageStart, 2 deltas, stop, messageStop, metadata: five pauses.
    expect(out.eventCount).toBe(6);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it.each([
    ['modelStreamErrorException', 'ModelStreamErrorException'],
    ['throttlingException', 'ThrottlingException'],
    ['internalServerException', 'InternalServerException'],
    ['validationException', 'ValidationException'],
    ['serviceUnavailableException', 'ServiceUnavailableException'],
  ])('surfaces a mid-stream %s as a thrown %s', async (exception, name) => {
    emulator.enqueue({
      blocks: [{ text: 'abcdefgh' }],
      failAfterEvents: { events: 2, exception, message: 'stream broke' },
    });
    const response = await client().send(new ConverseStreamCommand(input([user('go')])));
    const seen: ConverseStreamOutput[] = [];
    const error = await rejection(
      (async () => {
        for await (const event of response.stream ?? []) seen.push(event);
      })(),
    );
    expect(seen.map((e) => Object.keys(e)[0])).toEqual(['messageStart', 'contentBlockDelta']);
    expect(error.name).toBe(name);
    expect(error.message).toBe('stream broke');
  });

  it('answers failAfterEvents on converse as the matching HTTP error', async () => {
    emulator.enqueue({
      blocks: [{ text: 'x' }],
      failAfterEvents: { events: 1, exception: 'throttlingException' },
    });
    const error = await rejection(client().send(new ConverseCommand(input([user('go')]))));
    expect(error.name).toBe('ThrottlingException');
    expect((error.$metadata as { httpStatusCode?: number }).httpStatusCode).toBe(429);
  });
});

describe('errors', () => {
  it.each<[BedrockErrorName, number]>([
    ['AccessDeniedException', 403],
    ['ThrottlingException', 429],
    ['ValidationException', 400],
    ['ResourceNotFoundException', 404],
    ['ServiceUnavailableException', 503],
    ['InternalServerException', 500],
    ['ModelErrorException', 424],
    ['ModelTimeoutException', 408],
  ])('surfaces %s with status %i over both operations', async (name, status) => {
    emulator.enqueue(
      { error: name, message: `scripted ${name}` },
      { error: name, message: `scripted ${name}` },
    );
    const bedrock = client();
    for (const command of [
      new ConverseCommand(input([user('hi')])),
      new ConverseStreamCommand(input([user('hi')])),
    ]) {
      const error = await rejection(bedrock.send(command as ConverseCommand));
      expect(error.name).toBe(name);
      expect(error.message).toBe(`scripted ${name}`);
      expect((error.$metadata as { httpStatusCode?: number }).httpStatusCode).toBe(status);
    }
  });

  it('refuses a request without an Authorization header with 403', async () => {
    const response = await fetch(`${emulator.url}/model/${MODEL}/converse`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [user('hi')] }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toMatch(
      /^MissingAuthenticationTokenException:/,
    );
    expect(await response.json()).toEqual({ message: 'Missing Authentication Token' });
    expect(emulator.requests[0]?.accessKeyId).toBeUndefined();
  });

  it('answers an unknown route with 404', async () => {
    const response = await fetch(`${emulator.url}/foundation-models`);
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toMatch(/^UnknownOperationException:/);
  });
});

describe('validation as Bedrock does', () => {
  const use = (id: string): Message => ({
    role: 'assistant',
    content: [{ toolUse: { toolUseId: id, name: 'calculator', input: { expression: '1+1' } } }],
  });
  const result = (id: string): Message => ({
    role: 'user',
    content: [{ toolResult: { toolUseId: id, content: [{ text: '2' }] } }],
  });

  it.each<[string, Message[], Partial<ConverseCommandInput>, RegExp]>([
    ['empty messages', [], {}, /messages field is empty/],
    [
      'a first message from the assistant',
      [{ role: 'assistant', content: [{ text: 'hi' }] }],
      {},
      /must start with a user message/,
    ],
    [
      'two user messages in a row',
      [user('a'), user('b')],
      {},
      /must alternate between user and assistant/,
    ],
    [
      'a toolUse without its toolResult',
      [user('a'), use('t1'), user('b')],
      { toolConfig: TOOLS },
      /Expected toolResult blocks at messages\.2\.content for the following Ids: t1/,
    ],
    [
      'a toolResult that answers no toolUse',
      [user('a'), use('t1'), result('t2')],
      { toolConfig: TOOLS },
      /toolUseId t2 .* does not match/,
    ],
    [
      'tool blocks without a toolConfig',
      [user('a'), use('t1'), result('t1')],
      {},
      /toolConfig field must be defined/,
    ],
    ['a blank text block', [user('  \n ')], {}, /messages\.0\.content\.0 is blank/],
    [
      'a message without content',
      [{ role: 'user', content: [] }],
      {},
      /Message object at messages\.0 is empty/,
    ],
  ])('rejects %s with a ValidationException', async (_case, messages, extra, message) => {
    emulator.enqueue({ blocks: [{ text: 'never sent' }] });
    const error = await rejection(client().send(new ConverseCommand(input(messages, extra))));
    expect(error.name).toBe('ValidationException');
    expect((error.$metadata as { httpStatusCode?: number }).httpStatusCode).toBe(400);
    expect(error.message).toMatch(message);
  });

  it('refuses messages that are not a list as malformed, not as an emulator failure', async () => {
    const response = await fetch(`${emulator.url}/model/${MODEL}/converse`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDRAW/20260101/us-east-1/bedrock/aws4_request',
      },
      body: JSON.stringify({ messages: 'hi', system: 'be brief' }),
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toMatch(/^ValidationException:/);
    expect(((await response.json()) as { message: string }).message).toMatch(
      /required key \[messages\] not found/,
    );
  });

  it('accepts a complete tool round trip', async () => {
    emulator.enqueue({ blocks: [{ text: 'Two.' }] });
    const response = await client().send(
      new ConverseCommand(input([user('1+1?'), use('t1'), result('t1')], { toolConfig: TOOLS })),
    );
    expect(response.output?.message?.content).toEqual([{ text: 'Two.' }]);
  });

  it('refuses streaming tool use for a marked model but serves converse', async () => {
    emulator.refuseStreamingToolUse(MODEL);
    const bedrock = client();
    const error = await rejection(
      bedrock.send(new ConverseStreamCommand(input([user('hi')], { toolConfig: TOOLS }))),
    );
    expect(error.name).toBe('ValidationException');
    expect(error.message).toBe("This model doesn't support tool use in streaming mode.");
    emulator.enqueue({ blocks: [{ text: 'via converse' }], stopReason: 'end_turn' });
    const response = await bedrock.send(
      new ConverseCommand(input([user('hi')], { toolConfig: TOOLS })),
    );
    expect(response.output?.message?.content).toEqual([{ text: 'via converse' }]);
    emulator.enqueue({ blocks: [{ text: 'no tools, streamed' }] });
    expect((await stream(bedrock, [user('hi')])).text).toBe('no tools, streamed');
  });
});

describe('records and connections', () => {
  it('records the access key, region and service of each signer', async () => {
    const tokyo = client({
      region: 'ap-northeast-1',
      credentials: { accessKeyId: 'AKIDTOKYO', secretAccessKey: 'x' },
    });
    const frankfurt = client({
      region: 'eu-central-1',
      credentials: { accessKeyId: 'AKIDFRANKFURT', secretAccessKey: 'y', sessionToken: 't' },
    });
    await tokyo.send(new ConverseCommand(input([user('one')])));
    await stream(frankfurt, [user('two')]);
    const records = await emulator.waitForRequests(2);
    expect(records.map((r) => [r.id, r.operation, r.accessKeyId, r.region, r.service])).toEqual([
      [1, 'converse', 'AKIDTOKYO', 'ap-northeast-1', 'bedrock'],
      [2, 'converse-stream', 'AKIDFRANKFURT', 'eu-central-1', 'bedrock'],
    ]);
  });

  it('counts an HTTP/2 session per call of the default client', async () => {
    const bedrock = client();
    await stream(bedrock, [user('h2')]);
    await bedrock.send(new ConverseCommand(input([user('h2 again')])));
    expect(emulator.requests.map((r) => r.httpVersion)).toEqual(['2.0', '2.0']);
    // The Bedrock client sets disableConcurrentStreams: every call gets its own session.
    expect(emulator.http2Sessions).toBe(2);
    expect(emulator.connections).toBe(2);
    expect(emulator.http1Connections).toBe(0);
  });

  it('serves HTTP/1.1 keep-alive and reuses one connection for five streamed calls', async () => {
    const bedrock = http1Client();
    for (let i = 0; i < 5; i++) {
      emulator.enqueue({ blocks: [{ text: `reply ${i}` }] });
      expect((await stream(bedrock, [user(`call ${i}`)])).text).toBe(`reply ${i}`);
    }
    expect(emulator.requests.map((r) => r.httpVersion)).toEqual(Array(5).fill('1.1'));
    expect(new Set(emulator.requests.map((r) => r.connectionId)).size).toBe(1);
    expect(emulator.connections).toBe(1);
    expect(emulator.http1Connections).toBe(1);
    expect(emulator.http2Sessions).toBe(0);
  });

  /** Starts a stream that hangs after two events and aborts it once both have arrived. */
  async function abortHangingStream(bedrock: BedrockRuntimeClient) {
    emulator.enqueue({ blocks: [{ text: 'abcdefgh' }], hangAfterEvents: 2 });
    const controller = new AbortController();
    const response = await bedrock.send(new ConverseStreamCommand(input([user('hang')])), {
      abortSignal: controller.signal,
    });
    const seen: string[] = [];
    let error: Record<string, unknown> | undefined;
    try {
      for await (const event of response.stream ?? []) {
        seen.push(Object.keys(event)[0] ?? '');
        if (seen.length === 2) controller.abort();
      }
    } catch (thrown) {
      error = thrown as Record<string, unknown>;
    }
    return { seen, error };
  }

  it('sees a hanging HTTP/2 stream aborted by the client, whose iteration just ends', async () => {
    const { seen, error } = await abortHangingStream(client());
    expect(seen).toEqual(['messageStart', 'contentBlockDelta']);
    // NodeHttp2Handler closes the stream with NO_ERROR: the SDK's iterator ends quietly.
    expect(error).toBeUndefined();
    const aborted = await emulator.waitForAbort(2_000);
    expect(aborted).toMatchObject({ id: 1, aborted: true, httpVersion: '2.0' });
  });

  it('sees a hanging HTTP/1.1 stream aborted by the client, whose iteration throws', async () => {
    const { seen, error } = await abortHangingStream(http1Client());
    expect(seen).toEqual(['messageStart', 'contentBlockDelta']);
    expect(error).toMatchObject({ name: 'Error', message: 'aborted', code: 'ECONNRESET' });
    const aborted = await emulator.waitForAbort(2_000);
    expect(aborted).toMatchObject({ id: 1, aborted: true, httpVersion: '1.1' });
  });

  it('sees a hanging converse call aborted by the client', async () => {
    emulator.enqueue({ blocks: [{ text: 'never' }], hangAfterEvents: 0 });
    const controller = new AbortController();
    const call = client().send(new ConverseCommand(input([user('wait')])), {
      abortSignal: controller.signal,
    });
    await emulator.waitForRequests(1);
    controller.abort();
    expect((await rejection(call)).name).toBe('AbortError');
    expect((await emulator.waitForAbort(2_000)).operation).toBe('converse');
    expect(emulator.requests[0]?.status).toBeUndefined();
  });

  it('times out waiting for requests that never come', async () => {
    await expect(emulator.waitForRequests(1, 50)).rejects.toThrow(/Timed out after 50 ms/);
  });
});

describe('default script', () => {
  it('asks current_time for a time question, then reports the result', async () => {
    const bedrock = client();
    const ask = user('What time is it in Tokyo?');
    const first = await stream(bedrock, [ask], { toolConfig: TOOLS });
    expect(first.text).toBe('Let me check the time.');
    expect(first.toolUses).toEqual([
      {
        toolUseId: expect.stringMatching(/^tooluse_/),
        name: 'current_time',
        input: { timezone: 'Asia/Tokyo' },
      },
    ]);
    expect(first.stopReason).toBe('tool_use');
    const toolUseId = first.toolUses[0]?.toolUseId ?? '';
    const second = await stream(
      bedrock,
      [
        ask,
        {
          role: 'assistant',
          content: [
            { text: first.text },
            { toolUse: { toolUseId, name: 'current_time', input: { timezone: 'Asia/Tokyo' } } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId, content: [{ text: '2026-11-24T21:05:33+09:00' }] } },
          ],
        },
      ],
      { toolConfig: TOOLS },
    );
    expect(second.text).toBe('It is 21:05:33 in Asia/Tokyo.');
    expect(second.stopReason).toBe('end_turn');
  });

  it('asks calculator for arithmetic, then gives the answer', async () => {
    const bedrock = client();
    const ask = user('what is (12+30)*2?');
    const first = await bedrock.send(new ConverseCommand(input([ask], { toolConfig: TOOLS })));
    const content = first.output?.message?.content ?? [];
    expect(content[0]).toEqual({ text: 'Let me calculate that.' });
    expect(content[1]?.toolUse?.name).toBe('calculator');
    expect(content[1]?.toolUse?.input).toEqual({ expression: '(12+30)*2' });
    const toolUseId = content[1]?.toolUse?.toolUseId ?? '';
    const second = await bedrock.send(
      new ConverseCommand(
        input(
          [
            ask,
            { role: 'assistant', content },
            { role: 'user', content: [{ toolResult: { toolUseId, content: [{ text: '84' }] } }] },
          ],
          { toolConfig: TOOLS },
        ),
      ),
    );
    expect(second.output?.message?.content).toEqual([{ text: 'The answer is 84.' }]);
  });

  it('chats about plain text in small deltas, quoting the user', async () => {
    const out = await stream(client(), [user('Tell me about otters.')], { toolConfig: TOOLS });
    expect(out.text).toMatch(/^You said: "Tell me about otters\."\. /);
    expect(out.text.split('. ').length).toBeGreaterThanOrEqual(3);
    expect(out.textDeltas.length).toBeGreaterThan(10);
    expect(out.toolUses).toEqual([]);
  });

  it('does not call tools that are not offered', async () => {
    const out = await stream(client(), [user('What time is it?')]);
    expect(out.toolUses).toEqual([]);
    expect(out.text).toMatch(/^You said/);
  });
});

describe('splitText', () => {
  it('never ends a piece between the halves of a surrogate pair', () => {
    expect(splitText('a😀b', 2)).toEqual(['a', '😀', 'b']);
    expect(splitText('😀😀', 1)).toEqual(['😀', '😀']);
    expect(splitText('', 4)).toEqual(['']);
  });
});

describe('a script (the bench script)', () => {
  const shape: BenchShape = { chunks: 5, chunkChars: 3, delayMs: 0, firstChunkMs: 0 };
  let scripted: Emulator;

  beforeAll(async () => {
    scripted = await startEmulator({ script: (body) => benchReply(body, shape) });
  });

  afterAll(() => scripted.close());

  function scriptedClient() {
    return client({ endpoint: scripted.url });
  }

  it('answers every request no queued reply answers: a tool call, then the known text', async () => {
    const bedrock = scriptedClient();
    const messages: Message[] = [user('bench 1 0')];
    const first = await stream(bedrock, messages, { toolConfig: TOOLS });
    expect(first.toolUses).toEqual([
      {
        toolUseId: expect.stringMatching(/^tooluse_/),
        name: 'calculator',
        input: BENCH_TOOL.input,
      },
    ]);
    expect(first.stopReason).toBe('tool_use');
    const toolUseId = first.toolUses[0]!.toolUseId!;
    messages.push(
      {
        role: 'assistant',
        content: [{ toolUse: { toolUseId, name: 'calculator', input: BENCH_TOOL.input } }],
      },
      { role: 'user', content: [{ toolResult: { toolUseId, content: [{ text: '42' }] } }] },
    );
    const second = await stream(bedrock, messages, { toolConfig: TOOLS });
    expect(second.text).toBe(benchText('bench 1 0', 5, 3));
    expect(second.textDeltas).toHaveLength(5);
    expect(second.stopReason).toBe('end_turn');
    // A queued reply still comes first.
    scripted.enqueue({ blocks: [{ text: 'queued' }] });
    expect((await stream(bedrock, [user('x')])).text).toBe('queued');
  });

  it('answers a wrong tool result with other text, so the text check fails', async () => {
    const toolUseId = 'tooluse_x';
    const out = await stream(
      scriptedClient(),
      [
        user('bench 1 0'),
        { role: 'assistant', content: [{ toolUse: { toolUseId, name: 'calculator', input: {} } }] },
        { role: 'user', content: [{ toolResult: { toolUseId, content: [{ text: '41' }] } }] },
      ],
      { toolConfig: TOOLS },
    );
    expect(out.text).toBe('The tool returned "41".');
  });
});

describe('benchText', () => {
  it('is the same for the same message, and another for another', () => {
    expect(benchText('bench 0 0', 50, 4)).toBe(benchText('bench 0 0', 50, 4));
    expect(benchText('bench 0 0', 50, 4)).not.toBe(benchText('bench 0 1', 50, 4));
    expect(benchText('bench 0 0', 50, 4)).toHaveLength(200);
  });

  it('has no two neighbouring chunks alike, so a doubled or lost chunk shows', () => {
    for (const key of ['bench 0 0', 'bench 99 3', 'bench 999 0']) {
      const text = benchText(key, 200, 4);
      const chunks = text.match(/.{4}/g) ?? [];
      expect(chunks).toHaveLength(200);
      for (let i = 1; i < chunks.length; i++) expect(chunks[i]).not.toBe(chunks[i - 1]);
    }
  });
});
