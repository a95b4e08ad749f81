import { HttpAgent } from '@ag-ui/client';
import { type BaseEvent, EventType } from '@ag-ui/core';
import { readUIMessageStream, type UIMessageChunk } from 'ai';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type AgentgateMessage, chatTransport, textOf, userMessage } from '../helpers/ai-chat.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { type GatewayProcess, useProcessRig } from '../redis/processes.ts';

// Both adapters across processes on one Redis: two gateways (RUN_WORKER=false) and a
// worker, each its own process. Turns run in the worker; SSE streams on the gateways get
// their frames through Redis, as WebSocket sessions do.
const rig = useProcessRig();
let gatewayA: GatewayProcess;
let gatewayB: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  // One after another: three processes starting at once on a busy 2-core machine can each
  // take longer than the rig waits for one.
  await rig.worker('worker');
  gatewayA = await rig.gateway('gateway-a');
  gatewayB = await rig.gateway('gateway-b');
}, 120_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  rig.emulator.reset();
});

async function connect(gateway: GatewayProcess): Promise<TestClient> {
  const client = await TestClient.connect(gateway.wsUrl);
  clients.push(client);
  return client;
}

async function messageOf(stream: ReadableStream<UIMessageChunk>) {
  let last: AgentgateMessage | undefined;
  for await (const snapshot of readUIMessageStream<AgentgateMessage>({ stream })) last = snapshot;
  return last;
}

describe('the adapters across processes', () => {
  it('AI SDK: a chat dropped on gateway A resumes on gateway B; a WebSocket on B saw it all', async () => {
    rig.showLogsOnFailure();
    const watcher = await connect(gatewayB);
    const id = watcher.ready.conversationId;
    watcher.send({ type: 'subscribe', conversationId: id });
    await watcher.next((f) => f.type === 'subscribed');
    const text = 'one two three four five six seven eight nine ten eleven twelve.';
    rig.emulator.enqueue({ blocks: [{ text }], chunkChars: 4, delayMs: 60 });

    const dropped = new AbortController();
    const stream = await chatTransport(`${gatewayA.url}/v1/ai-sdk/chat`).sendMessages({
      chatId: id,
      messages: [userMessage('tell me slowly')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: dropped.signal,
    });
    const reader = stream.getReader();
    for (let chunk = await reader.read(); chunk.value?.type !== 'text-delta'; ) {
      chunk = await reader.read();
    }
    dropped.abort();
    await reader.cancel().catch(() => undefined);

    const resumed = await chatTransport(`${gatewayB.url}/v1/ai-sdk/chat`).reconnectToStream({
      chatId: id,
    });
    const message = await messageOf(resumed!);
    expect(textOf(message)).toBe(text);
    const frames = await watcher.turnFrames(message!.metadata!.turnId);
    const { end } = checkTurn(frames);
    expect(end).toMatchObject({ stopReason: 'end_turn', text, seq: message?.metadata?.seq });
  });

  it('AG-UI: a run with a tool call through gateway A; its thread read through gateway B', async () => {
    rig.showLogsOnFailure();
    const threadId = `thread-${Math.random().toString(36).slice(2)}`;
    const agent = new HttpAgent({ url: `${gatewayA.url}/v1/ag-ui`, threadId });
    agent.addMessage({ id: 'u1', role: 'user', content: 'what is (12+30)*2?' });
    const events: BaseEvent[] = [];
    await agent.runAgent({}, { onEvent: ({ event }) => void events.push(event) });
    const types = events.map((e) => e.type);
    expect(types[0]).toBe(EventType.RUN_STARTED);
    expect(types).toContain(EventType.TOOL_CALL_RESULT);
    expect(types.at(-1)).toBe(EventType.RUN_FINISHED);
    const answer = agent.messages.at(-1)?.content;
    expect(answer).toContain('The answer is 84.');
    const history = (await fetch(`${gatewayB.url}/v1/conversations/${threadId}/messages`).then(
      (r) => r.json(),
    )) as { messages: { role: string; content: string }[] };
    expect(history.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(history.messages.at(-1)?.content).toBe(answer);
  });
});
