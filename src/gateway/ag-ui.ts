import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type ErrorBody, errorBody, ProtocolError } from '../protocol/errors.ts';
import type { StopReason, TurnFrame, Usage } from '../protocol/frames.ts';
import { ClientConversationId, type SseAdapters, type TurnEncoder } from './sse-adapters.ts';
import type { ApprovalAnswer, FollowedTurn, TurnStreams } from './turn-streams.ts';

/** The AG-UI route. */
export const AG_UI_ROUTE = '/v1/ag-ui';

/** The AG-UI protocol version agentgate speaks (RUN_STARTED.protocolVersion). */
export const AG_UI_PROTOCOL_VERSION = '1.0';

/** `Interrupt.reason` of a request for approval of a tool call. */
export const APPROVAL_INTERRUPT_REASON = 'tool_approval';

/** `CUSTOM` event name of an answer to a request for approval (`approval-result`). */
export const APPROVAL_RESULT_EVENT = 'agentgate.approval-result';

/**
 * What a resume entry's `payload` says to a request for approval; `status: "cancelled"`
 * is a rejection.
 */
const ApprovalPayload = z.looseObject({
  approved: z.boolean(),
  reason: z.string().max(1000).optional(),
});

/** JSON Schema of {@link ApprovalPayload}, sent with each interrupt so a client can ask for it. */
const APPROVAL_RESPONSE_SCHEMA = {
  type: 'object',
  properties: {
    approved: { type: 'boolean', description: 'true runs the tool; false does not' },
    reason: { type: 'string', maxLength: 1000 },
  },
  required: ['approved'],
};

/** `RUN_FINISHED.result` (and what RUN_ERROR carries in `usage`): how the turn ended. */
export interface AgUiRunResult {
  conversationId: string;
  turnId: string;
  /** `seq` of the turn's `turn-end`. */
  seq: number;
  stopReason: StopReason;
  usage: Usage;
  durationMs: number;
  model: string;
}

type AgUiEvent = { type: string } & Record<string, unknown>;

/**
 * A turn's frames as AG-UI events: one run, whose `threadId` is the conversation; text
 * and reasoning as messages (one per stretch of text between tool calls), tool calls as
 * TOOL_CALL_START/ARGS/END (the whole input in one ARGS) and TOOL_CALL_RESULT. A request
 * for approval ends the run with an interrupt outcome (the turn waits on the gateway; a
 * new run whose `resume` answers it goes on with the rest of the turn). The turn's end is
 * RUN_FINISHED (`result`: usage and stop reason; a cancelled turn has the `cancelled`
 * outcome) or, after an error, RUN_ERROR.
 */
export class AgUiEncoder implements TurnEncoder {
  readonly #turn: FollowedTurn;
  readonly #threadId: string;
  readonly #runId: string;
  #text: string | undefined;
  #reasoning: string | undefined;
  /** The assistant message of this model call, which its tool calls belong to. */
  #stepMessage: string | undefined;
  #error: ErrorBody | undefined;

  constructor(turn: FollowedTurn, runId: string) {
    this.#turn = turn;
    this.#threadId = turn.conversationId;
    this.#runId = runId;
  }

  begin(): AgUiEvent[] {
    return [
      {
        type: 'RUN_STARTED',
        threadId: this.#threadId,
        runId: this.#runId,
        protocolVersion: AG_UI_PROTOCOL_VERSION,
      },
    ];
  }

  frame(frame: TurnFrame): { events: AgUiEvent[]; stop: boolean } {
    const out: AgUiEvent[] = [];
    switch (frame.type) {
      case 'turn-start':
        break;
      case 'token':
        if (frame.text === '') break;
        this.#closeReasoning(out);
        if (this.#text === undefined) {
          this.#text = `${frame.turnId}:${frame.seq}`;
          this.#stepMessage ??= this.#text;
          out.push({ type: 'TEXT_MESSAGE_START', messageId: this.#text, role: 'assistant' });
        }
        out.push({ type: 'TEXT_MESSAGE_CONTENT', messageId: this.#text, delta: frame.text });
        break;
      case 'reasoning':
        if (frame.text === '') break;
        this.#closeText(out);
        if (this.#reasoning === undefined) {
          this.#reasoning = `${frame.turnId}:${frame.seq}`;
          out.push(
            { type: 'REASONING_START', messageId: this.#reasoning },
            { type: 'REASONING_MESSAGE_START', messageId: this.#reasoning, role: 'reasoning' },
          );
        }
        out.push({
          type: 'REASONING_MESSAGE_CONTENT',
          messageId: this.#reasoning,
          delta: frame.text,
        });
        break;
      case 'tool-start': {
        this.#closeParts(out);
        this.#stepMessage ??= `${frame.turnId}:${frame.seq}`;
        const { toolCallId } = frame;
        out.push(
          {
            type: 'TOOL_CALL_START',
            toolCallId,
            toolCallName: frame.name,
            parentMessageId: this.#stepMessage,
          },
          { type: 'TOOL_CALL_ARGS', toolCallId, delta: JSON.stringify(frame.input) },
          { type: 'TOOL_CALL_END', toolCallId },
        );
        break;
      }
      case 'approval-request':
        if (this.#turn.answered.has(frame.toolCallId)) break;
        this.#closeParts(out);
        out.push({
          type: 'RUN_FINISHED',
          threadId: this.#threadId,
          runId: this.#runId,
          outcome: {
            type: 'interrupt',
            interrupts: [
              {
                id: frame.toolCallId,
                reason: APPROVAL_INTERRUPT_REASON,
                message: `Approve the call of ${frame.name}?`,
                toolCallId: frame.toolCallId,
                responseSchema: APPROVAL_RESPONSE_SCHEMA,
                expiresAt: frame.expiresAt,
                metadata: { name: frame.name, input: frame.input },
              },
            ],
          },
        });
        return { events: out, stop: true };
      case 'approval-result':
        out.push({
          type: 'CUSTOM',
          name: APPROVAL_RESULT_EVENT,
          value: {
            toolCallId: frame.toolCallId,
            decision: frame.decision,
            ...(frame.decidedBy !== undefined ? { decidedBy: frame.decidedBy } : {}),
            ...(frame.reason !== undefined ? { reason: frame.reason } : {}),
          },
        });
        break;
      case 'tool-end':
        // The next model call is another assistant message.
        this.#stepMessage = undefined;
        out.push({
          type: 'TOOL_CALL_RESULT',
          messageId: `${frame.toolCallId}:result`,
          toolCallId: frame.toolCallId,
          content: frame.output,
          role: 'tool',
          ...(frame.isError ? { metadata: { isError: true } } : {}),
        });
        break;
      case 'error':
        this.#error = errorBody(
          new ProtocolError(frame.code, frame.message, { retryable: frame.retryable }),
        );
        break;
      case 'turn-end': {
        this.#closeParts(out);
        const result: AgUiRunResult = {
          conversationId: frame.conversationId,
          turnId: frame.turnId,
          seq: frame.seq,
          stopReason: frame.stopReason,
          usage: frame.usage,
          durationMs: frame.durationMs,
          model: frame.model,
        };
        const usage = [{ provider: 'amazon-bedrock', model: frame.model, ...frame.usage }];
        if (this.#error ?? frame.stopReason === 'error') {
          out.push({
            type: 'RUN_ERROR',
            message: this.#error?.message ?? 'The turn failed.',
            code: this.#error?.code ?? 'internal',
            usage,
          });
        } else {
          out.push({
            type: 'RUN_FINISHED',
            threadId: this.#threadId,
            runId: this.#runId,
            result,
            outcome: { type: frame.stopReason === 'cancelled' ? 'cancelled' : 'success' },
            usage,
          });
        }
        return { events: out, stop: true };
      }
    }
    return { events: out, stop: false };
  }

  fail(error: ProtocolError): AgUiEvent[] {
    const out: AgUiEvent[] = [];
    this.#closeParts(out);
    out.push({ type: 'RUN_ERROR', message: error.message, code: error.code });
    return out;
  }

  #closeParts(out: AgUiEvent[]): void {
    this.#closeText(out);
    this.#closeReasoning(out);
  }

  #closeText(out: AgUiEvent[]): void {
    if (this.#text === undefined) return;
    out.push({ type: 'TEXT_MESSAGE_END', messageId: this.#text });
    this.#text = undefined;
  }

  #closeReasoning(out: AgUiEvent[]): void {
    if (this.#reasoning === undefined) return;
    out.push(
      { type: 'REASONING_MESSAGE_END', messageId: this.#reasoning },
      { type: 'REASONING_END', messageId: this.#reasoning },
    );
    this.#reasoning = undefined;
  }
}

// ---- requests ------------------------------------------------------------------------

const Message = z.looseObject({
  role: z.string(),
  content: z.unknown().optional(),
});
type Message = z.infer<typeof Message>;

const ResumeEntry = z.looseObject({
  interruptId: z.string().min(1).max(200),
  status: z.enum(['resolved', 'cancelled']),
  payload: z.unknown().optional(),
});

/**
 * AG-UI's `RunAgentInput`, as far as agentgate reads it: `threadId` (the conversation),
 * `runId`, `messages` (only the last is read: the gateway keeps the history), `resume`
 * (answers to interrupts), and `forwardedProps.model` / `forwardedProps.agent`. `tools`,
 * `context` and `state` are accepted and not used.
 */
const RunAgentInput = z.looseObject({
  threadId: ClientConversationId,
  runId: z.string().min(1).max(200),
  messages: z.array(Message),
  resume: z.array(ResumeEntry).optional(),
  forwardedProps: z.unknown().optional(),
});

/** The text of a user message: a string, or its text parts joined by blank lines. */
function textOf(message: Message): string {
  if (typeof message.content === 'string') return message.content.trim();
  if (!Array.isArray(message.content)) return '';
  return message.content
    .flatMap((part: unknown) => {
      const p = part as { type?: unknown; text?: unknown };
      return p?.type === 'text' && typeof p.text === 'string' ? [p.text] : [];
    })
    .join('\n\n')
    .trim();
}

/** A resume entry as an answer: `resolved` with `{approved, reason?}`, or `cancelled` (no). */
function answerOf(entry: z.infer<typeof ResumeEntry>): ApprovalAnswer {
  if (entry.status === 'cancelled') {
    return { toolCallId: entry.interruptId, decision: 'reject', reason: 'cancelled' };
  }
  const payload = ApprovalPayload.safeParse(entry.payload);
  if (!payload.success) {
    throw new ProtocolError(
      'bad_frame',
      `resume entry ${entry.interruptId}: payload must be {"approved": true|false, "reason"?: string}.`,
    );
  }
  return {
    toolCallId: entry.interruptId,
    decision: payload.data.approved ? 'approve' : 'reject',
    ...(payload.data.reason !== undefined ? { reason: payload.data.reason } : {}),
  };
}

/** Reads `forwardedProps.model` / `.agent` when forwardedProps is an object. */
function forwarded(props: unknown, key: 'model' | 'agent'): unknown {
  return props && typeof props === 'object' && !Array.isArray(props)
    ? (props as Record<string, unknown>)[key]
    : undefined;
}

/** `POST /v1/ag-ui`: a run is a chat (its last message) or answers to interrupts (`resume`). */
export function registerAgUiRoutes(
  app: FastifyInstance,
  adapters: SseAdapters,
  streams: TurnStreams,
): void {
  app.post(AG_UI_ROUTE, adapters.routeOptions, (request, reply) => {
    let runId = '';
    return adapters.serve(request, reply, {
      encoder: (turn) => new AgUiEncoder(turn, runId),
      start: async (userId) => {
        const input = adapters.parse(RunAgentInput, request.body, 'an AG-UI RunAgentInput');
        runId = input.runId;
        if (input.resume && input.resume.length > 0) {
          return streams.answer(userId, input.threadId, input.resume.map(answerOf));
        }
        const last = input.messages.at(-1);
        if (last?.role !== 'user') {
          throw new ProtocolError(
            'bad_frame',
            "The last message must be the user's (or send `resume` to answer interrupts).",
          );
        }
        const content = textOf(last);
        if (content === '') {
          throw new ProtocolError('bad_frame', 'The last user message has no text.');
        }
        const frame = adapters.chatFrame({
          content,
          conversationId: input.threadId,
          model: forwarded(input.forwardedProps, 'model'),
          agent: forwarded(input.forwardedProps, 'agent'),
        });
        return streams.chat(userId, frame);
      },
    });
  });
}
