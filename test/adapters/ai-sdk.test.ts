import { readUIMessageStream, type UIMessageChunk } from 'ai';
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
async function send(text: string, options: { id?: string; token?: string; signal?: AbortSignal } = {}) {
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
    }).then((r) => r.json());
    expect(history.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
    expect(history.messages[1].content).toBe(text);
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
});
