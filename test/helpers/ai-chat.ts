import {
  AbstractChat,
  type ChatInit,
  type ChatState,
  type ChatStatus,
  DefaultChatTransport,
  type UIMessage,
  type UIMessageChunk,
} from 'ai';

/** The metadata agentgate puts on an assistant message (see src/gateway/ai-sdk.ts). */
export interface TurnMetadata {
  conversationId: string;
  turnId: string;
  seq?: number;
  model?: string;
  agent?: string;
  stopReason?: string;
  usage?: { inputTokens: number; outputTokens: number; totalTokens: number };
  durationMs?: number;
  error?: { code: string; message: string; retryable: boolean };
  awaitingApproval?: string[];
}

export type AgentgateMessage = UIMessage<TurnMetadata>;

/** Plain state, as `useChat` keeps it in React state: what AbstractChat needs in Node. */
class PlainState implements ChatState<AgentgateMessage> {
  status: ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: AgentgateMessage[] = [];
  pushMessage = (message: AgentgateMessage) => {
    this.messages = [...this.messages, message];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (index: number, message: AgentgateMessage) => {
    this.messages = this.messages.map((m, i) => (i === index ? message : m));
  };
  snapshot = <T>(thing: T): T => structuredClone(thing);
}

/**
 * The `ai` package's own chat (what `useChat` wraps) in Node, with the transport a web app
 * would point at agentgate: sends, resumes, answers approvals exactly as `useChat` does.
 */
export class NodeChat extends AbstractChat<AgentgateMessage> {
  readonly errors: Error[] = [];

  constructor(
    init: Omit<ChatInit<AgentgateMessage>, 'transport'> & {
      api: string;
      token?: string;
    },
  ) {
    const { api, token, ...rest } = init;
    const errors: Error[] = [];
    super({
      ...rest,
      state: new PlainState(),
      transport: chatTransport(api, token),
      onError: (error) => errors.push(error),
    });
    this.errors = errors;
  }

  /** Resolves once the chat is neither submitted nor streaming (polls, as a UI re-renders). */
  async settled(timeoutMs = 15_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.status === 'submitted' || this.status === 'streaming') {
      if (Date.now() > until) throw new Error(`chat still ${this.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  get lastAssistant(): AgentgateMessage | undefined {
    return this.messages.findLast((m) => m.role === 'assistant');
  }
}

/**
 * The transport a web app points at agentgate: the gateway keeps the history, so only the
 * last message is sent (a request stays small, whatever the chat's length).
 */
export function chatTransport(api: string, token?: string): DefaultChatTransport<AgentgateMessage> {
  return new DefaultChatTransport<AgentgateMessage>({
    api,
    ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    prepareSendMessagesRequest: ({ id, messages, body }) => ({
      body: { ...body, id, messages: messages.slice(-1) },
    }),
  });
}

/** A user message as `sendMessage({text})` makes it. */
export function userMessage(text: string, id = `u${Math.random().toString(36).slice(2)}`) {
  return { id, role: 'user' as const, parts: [{ type: 'text' as const, text }] };
}

/** Every chunk of a stream, as the transport parsed (and validated) them. */
export async function chunksOf(stream: ReadableStream<UIMessageChunk>): Promise<UIMessageChunk[]> {
  const chunks: UIMessageChunk[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<UIMessageChunk>) chunks.push(chunk);
  return chunks;
}

/** The text parts of a message, joined: what a page shows as the answer. */
export function textOf(message: UIMessage | undefined): string {
  return (message?.parts ?? []).map((p) => (p.type === 'text' ? p.text : '')).join('');
}
