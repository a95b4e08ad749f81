/**
 * The floor: the least a relay of Bedrock to WebSocket clients must do, against which the
 * benchmark holds agentgate. Same `BedrockRuntimeClient` and request handler as agentgate
 * (its BedrockClients), ConverseStream, the tool round trip done by hand, one JSON frame per
 * text delta with `ws`, the conversation kept per socket so each call carries its history as
 * agentgate's do. No LangChain, no store, no bus, no checks beyond what keeps it correct.
 *
 * Frames: `{"type":"ready"}` on connect; for each `{"type":"chat","content"}`, one
 * `{"type":"token","text"}` per delta, then `{"type":"turn-end"}` (after an
 * `{"type":"error","code","message"}` when the turn failed).
 */
import {
  type ContentBlock,
  ConverseStreamCommand,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { type WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { DEFAULT_MODELS, DEFAULT_SYSTEM_PROMPT } from '../../src/config/config.ts';
import { BedrockClients } from '../../src/providers/bedrock/clients.ts';

const Config = z.object({ emulatorUrl: z.url() });
const { emulatorUrl } = Config.parse(JSON.parse(process.argv[2] ?? '{}'));

/** agentgate's default model and attempts, so both make the same calls. */
const MODEL = DEFAULT_MODELS.split(',')[0]!;
const MAX_STEPS = 8;
const TOOLS: ToolConfiguration = {
  tools: [
    {
      toolSpec: {
        name: 'calculator',
        description: 'Multiplies two whole numbers: "6*7".',
        inputSchema: {
          json: {
            type: 'object',
            properties: { expression: { type: 'string' } },
            required: ['expression'],
          },
        },
      },
    },
  ],
};

const clients = new BedrockClients({
  credentials: async () => ({ accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' }),
  maxAttempts: 3,
  endpoint: emulatorUrl,
  profile: undefined,
});
const bedrock = clients.get('us-east-1');

/** The one tool: `a*b` of whole numbers. */
function calculator(input: unknown): string {
  const expression = String((input as { expression?: unknown })?.expression ?? '');
  const match = /^\s*(\d+)\s*\*\s*(\d+)\s*$/.exec(expression);
  return match
    ? String(Number(match[1]) * Number(match[2]))
    : `Error: cannot compute ${expression}`;
}

interface ToolCall {
  toolUseId: string;
  name: string;
  input: string;
}

/** One model call: streams its text deltas to the socket; returns the assistant message. */
async function callModel(
  socket: WebSocket,
  messages: Message[],
  signal: AbortSignal,
): Promise<{ message: Message; calls: ToolCall[]; stopReason: string | undefined }> {
  const response = await bedrock.send(
    new ConverseStreamCommand({
      modelId: MODEL,
      messages,
      system: [{ text: DEFAULT_SYSTEM_PROMPT }],
      toolConfig: TOOLS,
    }),
    { abortSignal: signal },
  );
  let text = '';
  const calls = new Map<number, ToolCall>();
  let stopReason: string | undefined;
  for await (const event of response.stream ?? []) {
    if (event.contentBlockDelta) {
      const { delta, contentBlockIndex } = event.contentBlockDelta;
      if (delta?.text !== undefined) {
        text += delta.text;
        socket.send(JSON.stringify({ type: 'token', text: delta.text }));
      } else if (delta?.toolUse?.input !== undefined) {
        const call = calls.get(contentBlockIndex ?? -1);
        if (call) call.input += delta.toolUse.input;
      }
    } else if (event.contentBlockStart?.start?.toolUse) {
      const { toolUseId = '', name = '' } = event.contentBlockStart.start.toolUse;
      calls.set(event.contentBlockStart.contentBlockIndex ?? -1, { toolUseId, name, input: '' });
    } else if (event.messageStop) {
      stopReason = event.messageStop.stopReason;
    }
  }
  const content: ContentBlock[] = text ? [{ text }] : [];
  for (const call of calls.values()) {
    content.push({
      toolUse: {
        toolUseId: call.toolUseId,
        name: call.name,
        input: JSON.parse(call.input || '{}'),
      },
    });
  }
  return { message: { role: 'assistant', content }, calls: [...calls.values()], stopReason };
}

/** A chat: model calls and tool results until the model ends its answer. */
async function runTurn(
  socket: WebSocket,
  history: Message[],
  content: string,
  signal: AbortSignal,
): Promise<void> {
  const messages: Message[] = [...history, { role: 'user', content: [{ text: content }] }];
  try {
    for (let step = 0; step < MAX_STEPS; step++) {
      const { message, calls, stopReason } = await callModel(socket, messages, signal);
      messages.push(message);
      if (stopReason !== 'tool_use' || calls.length === 0) break;
      messages.push({
        role: 'user',
        content: calls.map((call) => ({
          toolResult: {
            toolUseId: call.toolUseId,
            content: [{ text: calculator(JSON.parse(call.input || '{}')) }],
          },
        })),
      });
    }
    // Kept only once whole, so a failed turn leaves a conversation Bedrock still accepts.
    history.splice(0, history.length, ...messages);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof Error ? error.name : 'error';
    if (!signal.aborted) socket.send(JSON.stringify({ type: 'error', code, message }));
  }
  if (!signal.aborted) socket.send('{"type":"turn-end"}');
}

const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/ws' });
server.on('connection', (socket) => {
  const history: Message[] = [];
  const closed = new AbortController();
  let running = false;
  socket.on('close', () => closed.abort());
  socket.on('message', (data) => {
    let content: string;
    try {
      content = String((JSON.parse(String(data)) as { content?: unknown }).content ?? '');
    } catch {
      socket.send('{"type":"error","code":"bad_frame"}');
      return;
    }
    if (running || !content) {
      socket.send('{"type":"error","code":"turn_in_progress"}');
      return;
    }
    running = true;
    void runTurn(socket, history, content, closed.signal).finally(() => {
      running = false;
    });
  });
  socket.send('{"type":"ready"}');
});

server.on('listening', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.send?.({ type: 'listening', url: `ws://127.0.0.1:${port}/v1/ws` });
});

let closing = false;
function close(): void {
  if (closing) return;
  closing = true;
  for (const socket of server.clients) socket.terminate();
  server.close(() => {
    clients.destroy();
    process.exit(0);
  });
}
process.on('disconnect', close);
process.on('SIGTERM', close);
