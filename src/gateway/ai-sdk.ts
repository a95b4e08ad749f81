import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ErrorBody, errorBody, ProtocolError } from '../protocol/errors.ts';
import type { StopReason, TurnFrame, Usage } from '../protocol/frames.ts';
import { ClientConversationId, type SseAdapters, type TurnEncoder } from './sse-adapters.ts';
import type { ApprovalAnswer, FollowedTurn, TurnStreams } from './turn-streams.ts';

/** The chat route; `GET <route>/:id/stream` resumes (the AI SDK's default reconnect URL). */
export const AI_SDK_CHAT_ROUTE = '/v1/ai-sdk/chat';

/** The header that marks a UI message stream, and its version. */
export const UI_MESSAGE_STREAM_HEADERS = { 'x-vercel-ai-ui-message-stream': 'v1' } as const;

/**
 * What agentgate puts in an assistant message's `metadata` (the `start` and `finish`
 * chunks' `messageMetadata`): where the turn is, and at its end how it ended.
 */
export interface AiSdkMessageMetadata {
  conversationId: string;
  turnId: string;
  /** `seq` of the frame the chunk came from: `turn-start` on `start`, `turn-end` on `finish`. */
  seq?: number;
  model?: string;
  agent?: string;
  stopReason?: StopReason;
  usage?: Usage;
  durationMs?: number;
  /** The turn's `error` (or what cut the stream short), in the protocol's error shape. */
  error?: ErrorBody;
  /** Tool calls waiting for approval when the response ended at a request for one. */
  awaitingApproval?: string[];
}

/** The UI message stream chunks agentgate sends (a subset of the `ai` package's schema). */
export type UiMessageChunk =
  | { type: 'start'; messageId: string; messageMetadata: AiSdkMessageMetadata }
  | { type: 'start-step' | 'finish-step' }
  | { type: 'text-start' | 'text-end' | 'reasoning-start' | 'reasoning-end'; id: string }
  | { type: 'text-delta' | 'reasoning-delta'; id: string; delta: string }
  | {
      type: 'tool-input-available';
      toolCallId: string;
      toolName: string;
      input: unknown;
      dynamic: true;
    }
  | { type: 'tool-approval-request'; approvalId: string; toolCallId: string }
  | { type: 'tool-output-available'; toolCallId: string; output: unknown; dynamic: true }
  | { type: 'tool-output-error'; toolCallId: string; errorText: string; dynamic: true }
  | { type: 'tool-output-denied'; toolCallId: string }
  | { type: 'error'; errorText: string }
  | { type: 'message-metadata'; messageMetadata: AiSdkMessageMetadata }
  | {
      type: 'finish';
      finishReason: 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'error' | 'other';
      messageMetadata: AiSdkMessageMetadata;
    }
  | { type: 'abort'; reason: string };

const FINISH_REASONS = {
  end_turn: 'stop',
  max_tokens: 'length',
  content_filtered: 'content-filter',
  step_limit: 'other',
  error: 'error',
  cancelled: 'other',
} as const satisfies Record<StopReason, string>;

/**
 * A turn's frames as a UI message stream: the turn is one assistant message whose id is
 * the turn id, each model call a step; text, reasoning, tool calls (dynamic tools: the
 * client does not know agentgate's tools) and errors use the protocol's own chunks. A
 * request for approval is `tool-approval-request` and ends the response (`finish` with
 * `tool-calls`): the turn waits on the gateway, and the answer comes back as the messages
 * `addToolApprovalResponse` makes, whose response goes on with the rest of the turn. A
 * cancelled turn ends with `abort`.
 */
export class UiMessageEncoder implements TurnEncoder {
  readonly #turn: FollowedTurn;
  #stepOpen: boolean;
  /** A tool ran in this step: the next model output is a new step. */
  #afterTools: boolean;
  #text: string | undefined;
  #reasoning: string | undefined;
  readonly #denied = new Set<string>();
  #error: ErrorBody | undefined;

  constructor(turn: FollowedTurn) {
    this.#turn = turn;
    // A continuation goes on inside the step whose tool call waited.
    this.#stepOpen = turn.continued;
    this.#afterTools = false;
  }

  begin(): UiMessageChunk[] {
    if (!this.#turn.continued) return [];
    return [{ type: 'start', messageId: this.#turn.turnId, messageMetadata: this.#ids() }];
  }

  frame(frame: TurnFrame): { events: UiMessageChunk[]; stop: boolean } {
    const out: UiMessageChunk[] = [];
    switch (frame.type) {
      case 'turn-start':
        this.#stepOpen = true;
        out.push(
          {
            type: 'start',
            messageId: frame.turnId,
            messageMetadata: {
              ...this.#ids(),
              seq: frame.seq,
              model: frame.model,
              agent: frame.agent,
            },
          },
          { type: 'start-step' },
        );
        break;
      case 'token':
        if (frame.text === '') break;
        this.#step(out);
        this.#closeReasoning(out);
        if (this.#text === undefined) {
          this.#text = `${frame.turnId}:${frame.seq}`;
          out.push({ type: 'text-start', id: this.#text });
        }
        out.push({ type: 'text-delta', id: this.#text, delta: frame.text });
        break;
      case 'reasoning':
        if (frame.text === '') break;
        this.#step(out);
        this.#closeText(out);
        if (this.#reasoning === undefined) {
          this.#reasoning = `${frame.turnId}:${frame.seq}`;
          out.push({ type: 'reasoning-start', id: this.#reasoning });
        }
        out.push({ type: 'reasoning-delta', id: this.#reasoning, delta: frame.text });
        break;
      case 'tool-start':
        this.#step(out);
        this.#closeParts(out);
        out.push({
          type: 'tool-input-available',
          toolCallId: frame.toolCallId,
          toolName: frame.name,
          input: frame.input,
          dynamic: true,
        });
        break;
      case 'approval-request':
        out.push({
          type: 'tool-approval-request',
          approvalId: frame.toolCallId,
          toolCallId: frame.toolCallId,
        });
        if (this.#turn.answered.has(frame.toolCallId)) break;
        this.#closeParts(out);
        this.#finishStep(out);
        out.push({
          type: 'finish',
          finishReason: 'tool-calls',
          messageMetadata: {
            ...this.#ids(),
            seq: frame.seq,
            awaitingApproval: [frame.toolCallId],
          },
        });
        return { events: out, stop: true };
      case 'approval-result':
        if (frame.decision === 'reject') {
          this.#denied.add(frame.toolCallId);
          out.push({ type: 'tool-output-denied', toolCallId: frame.toolCallId });
        }
        break;
      case 'tool-end':
        this.#afterTools = true;
        if (this.#denied.has(frame.toolCallId)) break;
        out.push(
          frame.isError
            ? {
                type: 'tool-output-error',
                toolCallId: frame.toolCallId,
                errorText: frame.output,
                dynamic: true,
              }
            : {
                type: 'tool-output-available',
                toolCallId: frame.toolCallId,
                output: frame.output,
                dynamic: true,
              },
        );
        break;
      case 'error':
        this.#closeParts(out);
        this.#error = errorBody(
          new ProtocolError(frame.code, frame.message, {
            retryable: frame.retryable,
            ...(frame.hints ? { hints: frame.hints } : {}),
          }),
        );
        out.push({ type: 'error', errorText: frame.message });
        break;
      case 'turn-end': {
        this.#closeParts(out);
        this.#finishStep(out);
        const messageMetadata: AiSdkMessageMetadata = {
          ...this.#ids(),
          seq: frame.seq,
          model: frame.model,
          stopReason: frame.stopReason,
          usage: frame.usage,
          durationMs: frame.durationMs,
          ...(this.#error ? { error: this.#error } : {}),
        };
        if (frame.stopReason === 'cancelled') {
          out.push(
            { type: 'message-metadata', messageMetadata },
            { type: 'abort', reason: 'cancelled' },
          );
        } else {
          out.push({
            type: 'finish',
            finishReason: FINISH_REASONS[frame.stopReason],
            messageMetadata,
          });
        }
        return { events: out, stop: true };
      }
    }
    return { events: out, stop: false };
  }

  fail(error: ProtocolError): UiMessageChunk[] {
    const out: UiMessageChunk[] = [];
    this.#closeParts(out);
    this.#finishStep(out);
    out.push(
      { type: 'error', errorText: error.message },
      {
        type: 'finish',
        finishReason: 'error',
        messageMetadata: { ...this.#ids(), error: errorBody(error) },
      },
    );
    return out;
  }

  #ids(): AiSdkMessageMetadata {
    return { conversationId: this.#turn.conversationId, turnId: this.#turn.turnId };
  }

  /** Opens a step for model output: the first, or the next after tools ran. */
  #step(out: UiMessageChunk[]): void {
    if (this.#stepOpen && !this.#afterTools) return;
    this.#closeParts(out);
    this.#finishStep(out);
    out.push({ type: 'start-step' });
    this.#stepOpen = true;
    this.#afterTools = false;
  }

  #finishStep(out: UiMessageChunk[]): void {
    if (!this.#stepOpen) return;
    out.push({ type: 'finish-step' });
    this.#stepOpen = false;
  }

  #closeParts(out: UiMessageChunk[]): void {
    this.#closeText(out);
    this.#closeReasoning(out);
  }

  #closeText(out: UiMessageChunk[]): void {
    if (this.#text === undefined) return;
    out.push({ type: 'text-end', id: this.#text });
    this.#text = undefined;
  }

  #closeReasoning(out: UiMessageChunk[]): void {
    if (this.#reasoning === undefined) return;
    out.push({ type: 'reasoning-end', id: this.#reasoning });
    this.#reasoning = undefined;
  }
}

// ---- requests ------------------------------------------------------------------------

const UiPart = z.looseObject({ type: z.string() });
const UiMessage = z.looseObject({
  id: z.string().optional(),
  role: z.enum(['system', 'user', 'assistant']),
  parts: z.array(UiPart),
});
type UiMessage = z.infer<typeof UiMessage>;

/**
 * The body `DefaultChatTransport` sends: `id` (the conversation id), `messages` (only the
 * last one is read: the gateway keeps the history), `trigger`, `messageId`; plus what the
 * app adds with `body`: `model` and `agent`, as in a chat frame.
 */
const ChatRequest = z.looseObject({
  id: ClientConversationId,
  messages: z.array(UiMessage).min(1, { error: 'needs at least one message' }),
  trigger: z.enum(['submit-message', 'regenerate-message']).optional(),
  model: z.unknown().optional(),
  agent: z.unknown().optional(),
});

/** A tool part the user answered (`addToolApprovalResponse`). */
const AnsweredToolPart = z.looseObject({
  type: z.string().refine((t) => t === 'dynamic-tool' || t.startsWith('tool-')),
  toolCallId: z.string().min(1).max(200),
  state: z.literal('approval-responded'),
  approval: z.looseObject({
    id: z.string(),
    approved: z.boolean(),
    reason: z.string().max(1000).optional(),
  }),
});

/** The answers to requests for approval in an assistant message, if it carries any. */
function approvalAnswers(message: UiMessage): ApprovalAnswer[] {
  return message.parts.flatMap((part) => {
    const answered = AnsweredToolPart.safeParse(part);
    if (!answered.success) return [];
    const { toolCallId, approval } = answered.data;
    return [
      {
        toolCallId,
        decision: approval.approved ? 'approve' : 'reject',
        ...(approval.reason !== undefined ? { reason: approval.reason } : {}),
      } satisfies ApprovalAnswer,
    ];
  });
}

/** The text of a user message: its text parts, joined by blank lines. */
function textOf(message: UiMessage): string {
  return message.parts
    .flatMap((part) => (part.type === 'text' && typeof part.text === 'string' ? [part.text] : []))
    .join('\n\n')
    .trim();
}

/**
 * `POST /v1/ai-sdk/chat` (a chat, or answers to requests for approval) and
 * `GET /v1/ai-sdk/chat/:id/stream` (the running turn, from its first frame; 204 when none).
 */
export function registerAiSdkRoutes(
  app: FastifyInstance,
  adapters: SseAdapters,
  streams: TurnStreams,
): void {
  const stream = {
    encoder: (turn: FollowedTurn) => new UiMessageEncoder(turn),
    headers: UI_MESSAGE_STREAM_HEADERS,
    trailer: 'data: [DONE]\n\n',
  };

  app.post(AI_SDK_CHAT_ROUTE, adapters.routeOptions, (request, reply) =>
    adapters.serve(request, reply, {
      ...stream,
      start: async (userId) => {
        const body = adapters.parse(ChatRequest, request.body, 'an AI SDK chat request');
        const last = body.messages.at(-1)!;
        const answers = last.role === 'assistant' ? approvalAnswers(last) : [];
        if (answers.length > 0) return streams.answer(userId, body.id, answers);
        if (last.role !== 'user') {
          throw new ProtocolError(
            'bad_frame',
            "The last message must be the user's, or the assistant's with answers to requests for approval.",
          );
        }
        const content = textOf(last);
        if (content === '') {
          throw new ProtocolError('bad_frame', 'The last user message has no text part.');
        }
        const frame = adapters.chatFrame({
          content,
          conversationId: body.id,
          model: body.model,
          agent: body.agent,
        });
        return streams.chat(userId, frame);
      },
    }),
  );

  app.get<{ Params: { id: string } }>(
    `${AI_SDK_CHAT_ROUTE}/:id/stream`,
    adapters.routeOptions,
    (request, reply) =>
      adapters.serve(request, reply, {
        ...stream,
        start: (userId) =>
          streams.running(
            userId,
            adapters.parse(ClientConversationId, request.params.id, 'a conversation id'),
          ),
      }),
  );
}
