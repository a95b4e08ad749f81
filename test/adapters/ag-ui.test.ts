import { HttpAgent } from '@ag-ui/client';
import { type AssistantMessage, type BaseEvent, EventType } from '@ag-ui/core';
import { EventSchemas } from '@ag-ui/core/schemas';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';

// The AG-UI adapter, driven by @ag-ui/client's HttpAgent (which checks the event order
// itself) against a real gateway and the Bedrock emulator; every event also passes
// @ag-ui/core's schemas.

let gw: TestGateway;
let url: string;

beforeAll(async () => {
  gw = await startGateway({
    AUTH_API_KEYS: 'key-alice:alice,key-bob:bob',
    APPROVAL_REQUIRED_TOOLS: 'current_time',
  });
  url = `${gw.url}/v1/ag-ui`;
});
afterAll(async () => {
  await gw.close();
});

const newThread = () => `thread-${Math.random().toString(36).slice(2)}`;

function agentFor(threadId = newThread(), token = 'key-alice') {
  return new HttpAgent({ url, threadId, headers: { authorization: `Bearer ${token}` } });
}

/** Adds a user message and runs the agent, keeping every event (each held to the schemas). */
async function run(agent: HttpAgent, text: string | undefined, params = {}) {
  if (text !== undefined) {
    agent.addMessage({
      id: `u${Math.random().toString(36).slice(2)}`,
      role: 'user',
      content: text,
    });
  }
  const events: BaseEvent[] = [];
  let failure: unknown;
  await agent
    .runAgent(params, {
      onEvent: ({ event }) => {
        EventSchemas.parse(event);
        events.push(event);
      },
    })
    .catch((error: unknown) => {
      failure = error;
    });
  return { events, failure, types: events.map((e) => e.type) };
}

type Loose = BaseEvent & Record<string, unknown>;
const find = (events: BaseEvent[], type: EventType) =>
  events.find((e) => e.type === type) as Loose | undefined;

describe('AG-UI runs', () => {
  it('streams text as a run: RUN_STARTED, TEXT_MESSAGE_*, RUN_FINISHED with usage', async () => {
    const threadId = newThread();
    const agent = agentFor(threadId);
    const { types, events, failure } = await run(agent, 'hello there');
    expect(failure).toBeUndefined();
    expect(types[0]).toBe(EventType.RUN_STARTED);
    expect(types.at(-1)).toBe(EventType.RUN_FINISHED);
    expect(types).toContain(EventType.TEXT_MESSAGE_CONTENT);
    expect(find(events, EventType.RUN_STARTED)).toMatchObject({ threadId });
    const finished = find(events, EventType.RUN_FINISHED);
    expect(finished).toMatchObject({
      threadId,
      outcome: { type: 'success' },
      result: {
        conversationId: threadId,
        stopReason: 'end_turn',
        usage: { totalTokens: expect.any(Number) },
      },
      usage: [{ provider: 'amazon-bedrock', totalTokens: expect.any(Number) }],
    });
    const answer = agent.messages.at(-1);
    expect(answer).toMatchObject({ role: 'assistant' });
    expect(answer?.content).toContain('You said: "hello there"');
  });

  it('shows a tool call: start, args, end, result', async () => {
    const agent = agentFor();
    const { events, failure } = await run(agent, 'what is (12+30)*2?');
    expect(failure).toBeUndefined();
    const start = find(events, EventType.TOOL_CALL_START);
    expect(start).toMatchObject({ toolCallName: 'calculator' });
    const args = find(events, EventType.TOOL_CALL_ARGS);
    expect(JSON.parse(args?.delta as string)).toEqual({ expression: '(12+30)*2' });
    expect(find(events, EventType.TOOL_CALL_END)).toMatchObject({ toolCallId: start?.toolCallId });
    expect(find(events, EventType.TOOL_CALL_RESULT)).toMatchObject({
      toolCallId: start?.toolCallId,
      content: '84',
      role: 'tool',
    });
    const tool = agent.messages.find((m) => m.role === 'tool');
    expect(tool).toMatchObject({ toolCallId: start?.toolCallId, content: '84' });
    const withCall = agent.messages.find(
      (m): m is AssistantMessage => m.role === 'assistant' && (m.toolCalls?.length ?? 0) > 0,
    );
    expect(withCall?.toolCalls?.[0]?.function.name).toBe('calculator');
    expect(agent.messages.at(-1)?.content).toContain('The answer is 84.');
  });

  it('sends reasoning as REASONING_* events, apart from the text', async () => {
    gw.emulator.enqueue({ blocks: [{ reasoning: 'Think first.' }, { text: 'Answer.' }] });
    const { types, events, failure } = await run(agentFor(), 'think');
    expect(failure).toBeUndefined();
    // Runs of one type (the deltas) as one.
    const kinds = types.slice(1, -1).filter((type, i, all) => type !== all[i - 1]);
    expect(kinds).toEqual([
      EventType.REASONING_START,
      EventType.REASONING_MESSAGE_START,
      EventType.REASONING_MESSAGE_CONTENT,
      EventType.REASONING_MESSAGE_END,
      EventType.REASONING_END,
      EventType.TEXT_MESSAGE_START,
      EventType.TEXT_MESSAGE_CONTENT,
      EventType.TEXT_MESSAGE_END,
    ]);
    const deltas = (type: EventType) =>
      events
        .filter((e) => e.type === type)
        .map((e) => (e as Loose).delta)
        .join('');
    expect(deltas(EventType.REASONING_MESSAGE_CONTENT)).toBe('Think first.');
    expect(deltas(EventType.TEXT_MESSAGE_CONTENT)).toBe('Answer.');
  });

  it('ends a failed turn with RUN_ERROR carrying the protocol code', async () => {
    gw.emulator.enqueue({ error: 'AccessDeniedException' });
    const { events } = await run(agentFor(), 'fail please');
    expect(events.at(-1)).toMatchObject({
      type: EventType.RUN_ERROR,
      code: 'aws_access_denied',
      message: expect.any(String),
    });
    expect(events.map((e) => e.type)).not.toContain(EventType.RUN_FINISHED);
  });

  it('keeps the thread as the conversation: history, and the same turn over WebSocket', async () => {
    const ws = await gw.connect('?token=key-alice');
    const threadId = ws.ready.conversationId;
    ws.send({ type: 'subscribe', conversationId: threadId });
    await ws.next((f) => f.type === 'subscribed');
    const agent = agentFor(threadId);
    await run(agent, 'first');
    const { events } = await run(agent, 'what is (12+30)*2?');
    const result = find(events, EventType.RUN_FINISHED)?.result as { turnId: string; seq: number };
    const frames = await ws.turnFrames(result.turnId);
    const { text, end } = checkTurn(frames);
    expect(result.seq).toBe(end.seq);
    const streamed = events
      .filter((e) => e.type === EventType.TEXT_MESSAGE_CONTENT)
      .map((e) => (e as Loose).delta)
      .join('');
    expect(streamed).toBe(text);
    const history = (await fetch(`${gw.url}/v1/conversations/${threadId}/messages`, {
      headers: { authorization: 'Bearer key-alice' },
    }).then((r) => r.json())) as { messages: { role: string }[] };
    expect(history.messages.filter((m) => m.role === 'user')).toHaveLength(2);
  });

  it('does not cancel the turn when the run is dropped', async () => {
    const ws = await gw.connect('?token=key-alice');
    const threadId = ws.ready.conversationId;
    ws.send({ type: 'subscribe', conversationId: threadId });
    await ws.next((f) => f.type === 'subscribed');
    gw.emulator.enqueue({ blocks: [{ text: 'slow '.repeat(15) }], chunkChars: 5, delayMs: 50 });
    const agent = agentFor(threadId);
    agent.addMessage({ id: 'u1', role: 'user', content: 'slowly' });
    const running = agent.runAgent({}).catch(() => undefined);
    const token = await ws.next((f) => f.type === 'token');
    agent.abortRun();
    await running;
    const frames = await ws.turnFrames(token.turnId as string);
    expect(frames.at(-1)).toMatchObject({ type: 'turn-end', stopReason: 'end_turn' });
  });

  it('ends the run as cancelled when the thread is cancelled over HTTP', async () => {
    const threadId = newThread();
    gw.emulator.enqueue({ blocks: [{ text: 'slow '.repeat(30) }], chunkChars: 5, delayMs: 50 });
    const agent = agentFor(threadId);
    const events: BaseEvent[] = [];
    agent.addMessage({ id: 'u1', role: 'user', content: 'slowly' });
    let cancelled: Promise<Response> | undefined;
    await agent.runAgent(
      {},
      {
        onEvent: ({ event }) => {
          events.push(event);
          // What an app's Stop button sends, besides (or instead of) aborting the run.
          cancelled ??=
            event.type === EventType.TEXT_MESSAGE_CONTENT
              ? fetch(`${gw.url}/v1/conversations/${threadId}/cancel`, {
                  method: 'POST',
                  headers: { authorization: 'Bearer key-alice' },
                })
              : undefined;
        },
      },
    );
    expect((await cancelled)?.status).toBe(202);
    expect(find(events, EventType.RUN_FINISHED)).toMatchObject({
      outcome: { type: 'cancelled' },
      result: { stopReason: 'cancelled' },
    });
  });
});

describe('tool approval as interrupts', () => {
  it('ends the run with an interrupt; a run whose resume approves goes on', async () => {
    const agent = agentFor();
    const first = await run(agent, 'what time is it in Tokyo?');
    expect(first.failure).toBeUndefined();
    const finished = find(first.events, EventType.RUN_FINISHED);
    const call = find(first.events, EventType.TOOL_CALL_START);
    expect(finished?.outcome).toMatchObject({
      type: 'interrupt',
      interrupts: [
        {
          id: call?.toolCallId,
          reason: 'tool_approval',
          toolCallId: call?.toolCallId,
          expiresAt: expect.any(String),
          responseSchema: { type: 'object' },
        },
      ],
    });
    expect(agent.pendingInterrupts.map((i) => i.id)).toEqual([call?.toolCallId]);

    const second = await run(agent, undefined, {
      resume: [{ interruptId: call?.toolCallId, status: 'resolved', payload: { approved: true } }],
    });
    expect(second.failure).toBeUndefined();
    expect(find(second.events, EventType.CUSTOM)).toMatchObject({
      name: 'agentgate.approval-result',
      value: { toolCallId: call?.toolCallId, decision: 'approve', decidedBy: 'alice' },
    });
    expect(find(second.events, EventType.TOOL_CALL_RESULT)?.content).toMatch(/^\d{4}-/);
    expect(find(second.events, EventType.RUN_FINISHED)?.outcome).toEqual({ type: 'success' });
    expect(agent.pendingInterrupts).toEqual([]);
    expect(agent.messages.at(-1)?.content).toMatch(/It is \d\d:\d\d:\d\d in Asia\/Tokyo\./);
  });

  it('reads a cancelled resume entry as a rejection', async () => {
    const agent = agentFor();
    const first = await run(agent, 'what time is it in London?');
    const id = find(first.events, EventType.TOOL_CALL_START)?.toolCallId as string;
    const second = await run(agent, undefined, {
      resume: [{ interruptId: id, status: 'cancelled' }],
    });
    expect(find(second.events, EventType.CUSTOM)?.value).toMatchObject({ decision: 'reject' });
    expect(find(second.events, EventType.TOOL_CALL_RESULT)?.content).toContain('rejected');
  });
});

describe('refusals, in the protocol error shape', () => {
  const input = (threadId = newThread(), content = 'hi') => ({
    threadId,
    runId: 'run-1',
    messages: [{ id: 'u1', role: 'user', content }],
    tools: [],
    context: [],
  });

  async function post(body: unknown, headers: Record<string, string> = {}, base = gw.url) {
    const response = await fetch(`${base}/v1/ag-ui`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer key-alice',
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      error: (JSON.parse(text) as { error: { code: string } }).error,
    };
  }

  it.each([
    ['not JSON', '{"threadId":'],
    ['no threadId', { ...input(), threadId: undefined }],
    ['no runId', { ...input(), runId: undefined }],
    ['no messages', { ...input(), messages: undefined }],
    [
      'a last message that is not the user',
      { ...input(), messages: [{ id: 'a', role: 'assistant', content: 'x' }] },
    ],
    [
      'a user message without text',
      { ...input(), messages: [{ id: 'u', role: 'user', content: [] }] },
    ],
    ['text over 32,000 characters', input(newThread(), 'x'.repeat(32_001))],
    [
      'a resume payload that is not an answer',
      { ...input(), resume: [{ interruptId: 'x', status: 'resolved', payload: 'yes' }] },
    ],
  ])('answers 400 bad_frame to %s', async (_what, body) => {
    const { status, error } = await post(body);
    expect(status).toBe(400);
    expect(error).toMatchObject({ code: 'bad_frame', retryable: false });
  });

  it('reaches HttpAgent as an error with the status and the body', async () => {
    // HttpAgent logs the failure itself before rejecting with it.
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    onTestFinished(() => quiet.mockRestore());
    const agent = new HttpAgent({ url, threadId: newThread() });
    agent.addMessage({ id: 'u', role: 'user', content: 'hi' });
    const failure = (await agent.runAgent().catch((e: unknown) => e)) as {
      status: number;
      payload: { error: { code: string } };
    };
    expect(failure.status).toBe(401);
    expect(failure.payload.error.code).toBe('unauthorized');
  });

  it("answers 404 for another user's thread, and 409 while a turn runs", async () => {
    const threadId = newThread();
    await run(agentFor(threadId), 'mine');
    expect(await post(input(threadId), { authorization: 'Bearer key-bob' })).toMatchObject({
      status: 404,
      error: { code: 'not_found' },
    });
    gw.emulator.enqueue({ blocks: [{ text: 'slow '.repeat(15) }], chunkChars: 5, delayMs: 50 });
    const agent = agentFor(threadId);
    agent.addMessage({ id: 'u2', role: 'user', content: 'slowly' });
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => {
      started = resolve;
    });
    const running = agent.runAgent({}, { onTextMessageContentEvent: () => started() });
    await streaming;
    expect(await post(input(threadId))).toMatchObject({
      status: 409,
      error: { code: 'turn_in_progress', retryable: true },
    });
    await running;
  });

  it('answers 409 no_pending_approval to a resume that answers nothing waiting', async () => {
    const threadId = newThread();
    await run(agentFor(threadId), 'hello');
    const resume = [
      { interruptId: 'tooluse_nothing', status: 'resolved', payload: { approved: true } },
    ];
    expect(await post({ ...input(threadId), resume })).toMatchObject({
      status: 409,
      error: { code: 'no_pending_approval' },
    });
  });

  describe('with origins and a small body limit', () => {
    let limited: TestGateway;
    beforeAll(async () => {
      limited = await startGateway({
        ALLOWED_ORIGINS: 'https://good.example',
        MAX_FRAME_BYTES: '1024',
      });
    });
    afterAll(async () => {
      await limited.close();
    });

    it('answers 403 forbidden to an Origin not allowed', async () => {
      const answer = await post(input(), { origin: 'https://evil.example' }, limited.url);
      expect(answer).toMatchObject({ status: 403, error: { code: 'forbidden' } });
    });

    it('answers 413 frame_too_large to a body over MAX_FRAME_BYTES', async () => {
      const answer = await post(input(newThread(), 'x'.repeat(2_000)), {}, limited.url);
      expect(answer).toMatchObject({ status: 413, error: { code: 'frame_too_large' } });
    });
  });
});
