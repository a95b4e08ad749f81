import { z } from 'zod';
import { ERROR_CODES } from './errors.ts';

/** Protocol version carried in `ready`. */
export const PROTOCOL_VERSION = 1;
/** Longest `content` of a chat frame, in JavaScript string length. */
export const MAX_CONTENT_CHARS = 32_000;
/** Longest `requestId`. */
export const MAX_REQUEST_ID_CHARS = 128;
/** A `tool-end` output longer than this (in UTF-8 bytes) is cut and flagged `truncated`. */
export const MAX_TOOL_OUTPUT_BYTES = 16 * 1024;

const id = z.string().min(1).max(200);
const requestId = z.string().max(MAX_REQUEST_ID_CHARS);

// ---- client → server ----------------------------------------------------------------

export const ChatFrame = z.object({
  type: z.literal('chat'),
  content: z.string().min(1).max(MAX_CONTENT_CHARS),
  conversationId: id.optional(),
  model: z.string().min(1).max(2048).optional(),
  agent: z.string().min(1).max(64).optional(),
  requestId: requestId.optional(),
});
export const SubscribeFrame = z.object({
  type: z.literal('subscribe'),
  conversationId: id,
  afterSeq: z.number().int().min(0).optional(),
});
export const UnsubscribeFrame = z.object({ type: z.literal('unsubscribe'), conversationId: id });
export const CancelFrame = z.object({ type: z.literal('cancel'), conversationId: id });
export const HistoryRequestFrame = z.object({
  type: z.literal('history'),
  // As for chat: without one, the conversation `ready` named.
  conversationId: id.optional(),
  limit: z.number().int().min(1).optional(),
});
/** Longest `reason` of an `approve` frame. */
export const MAX_APPROVAL_REASON_CHARS = 1_000;
export const ApproveFrame = z.object({
  type: z.literal('approve'),
  conversationId: id,
  toolCallId: z.string().min(1).max(200),
  decision: z.enum(['approve', 'reject']),
  reason: z.string().max(MAX_APPROVAL_REASON_CHARS).optional(),
  requestId: requestId.optional(),
});
export const PingFrame = z.object({
  type: z.literal('ping'),
  id: z.union([z.string().max(MAX_REQUEST_ID_CHARS), z.number()]).optional(),
});

export const ClientFrame = z.discriminatedUnion('type', [
  ChatFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  CancelFrame,
  HistoryRequestFrame,
  ApproveFrame,
  PingFrame,
]);
export type ClientFrame = z.infer<typeof ClientFrame>;
export type ChatFrame = z.infer<typeof ChatFrame>;
export type ApproveFrame = z.infer<typeof ApproveFrame>;
export const CLIENT_FRAME_TYPES: ReadonlySet<string> = new Set(
  ClientFrame.options.map((o) => o.shape.type.value),
);

// ---- server → client ----------------------------------------------------------------

const turnFields = { conversationId: id, turnId: id, seq: z.number().int().min(1) };
const tokens = z.number().int().min(0);
/**
 * Tokens of a turn's model calls, as Bedrock counts them: `inputTokens` are the input tokens
 * not read from or written to the prompt cache; `totalTokens` counts all four kinds.
 */
const usage = z.object({
  inputTokens: tokens,
  outputTokens: tokens,
  totalTokens: tokens,
  cacheReadInputTokens: tokens,
  cacheWriteInputTokens: tokens,
  /** USD, when the price of every model the turn called is known. */
  costUsd: z.number().min(0).optional(),
});
export type Usage = z.infer<typeof usage>;

/** The usage of a turn that called no model. */
export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  totalTokens: 0,
  cacheReadInputTokens: 0,
  cacheWriteInputTokens: 0,
});

export const StopReason = z.enum([
  'end_turn',
  'max_tokens',
  'content_filtered',
  'cancelled',
  'error',
  'step_limit',
]);
export type StopReason = z.infer<typeof StopReason>;

export const ErrorCodeSchema = z.enum(Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES]);

const errorBody = {
  code: ErrorCodeSchema,
  message: z.string(),
  retryable: z.boolean(),
  hints: z.array(z.string()).optional(),
  requestId: requestId.optional(),
};

export const TurnStartFrame = z.object({
  type: z.literal('turn-start'),
  ...turnFields,
  model: z.string(),
  /** The agent that runs the turn. */
  agent: z.string(),
  requestId: requestId.optional(),
  userMessage: z.object({ content: z.string() }),
});
export const TokenFrame = z.object({ type: z.literal('token'), ...turnFields, text: z.string() });
export const ReasoningFrame = z.object({
  type: z.literal('reasoning'),
  ...turnFields,
  text: z.string(),
});
export const ToolStartFrame = z.object({
  type: z.literal('tool-start'),
  ...turnFields,
  toolCallId: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
});
export const ToolEndFrame = z.object({
  type: z.literal('tool-end'),
  ...turnFields,
  toolCallId: z.string(),
  name: z.string(),
  output: z.string(),
  truncated: z.literal(true).optional(),
  isError: z.boolean(),
  durationMs: z.number().min(0),
});
/** How a request for approval was answered; `timeout` and `cancelled` are nobody's answer. */
export const ApprovalDecision = z.enum(['approve', 'reject', 'timeout', 'cancelled']);
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;
const approvalRequest = {
  toolCallId: z.string(),
  name: z.string(),
  input: z.record(z.string(), z.unknown()),
  /** ISO-8601: no answer by then is `timeout`. */
  expiresAt: z.string(),
};
export const ApprovalRequestFrame = z.object({
  type: z.literal('approval-request'),
  ...turnFields,
  ...approvalRequest,
});
export const ApprovalResultFrame = z.object({
  type: z.literal('approval-result'),
  ...turnFields,
  toolCallId: z.string(),
  decision: ApprovalDecision,
  /** The deciding user; present for `approve` and `reject`. */
  decidedBy: z.string().optional(),
  reason: z.string().optional(),
});
export const TurnEndFrame = z.object({
  type: z.literal('turn-end'),
  ...turnFields,
  stopReason: StopReason,
  text: z.string(),
  usage,
  durationMs: z.number().min(0),
  model: z.string(),
});
export const TurnErrorFrame = z.object({ type: z.literal('error'), ...turnFields, ...errorBody });

/** Frames that belong to a turn: they carry `conversationId`, `turnId` and `seq`. */
export const TurnFrame = z.discriminatedUnion('type', [
  TurnStartFrame,
  TokenFrame,
  ReasoningFrame,
  ToolStartFrame,
  ToolEndFrame,
  ApprovalRequestFrame,
  ApprovalResultFrame,
  TurnEndFrame,
  TurnErrorFrame,
]);
export type TurnFrame = z.infer<typeof TurnFrame>;
/** A turn frame before the bus has given it its `seq`. */
export type TurnEvent = TurnFrame extends infer F
  ? F extends TurnFrame
    ? Omit<F, 'seq' | 'conversationId' | 'turnId'>
    : never
  : never;

/** An error outside a turn; `conversationId` names the conversation when it concerns one. */
export const ErrorFrame = z.object({
  type: z.literal('error'),
  ...errorBody,
  conversationId: id.optional(),
});
export const ModelInfo = z.object({
  id: z.string(),
  label: z.string(),
  region: z.string(),
  default: z.boolean(),
});
export const AgentInfo = z.object({
  id: z.string(),
  description: z.string(),
  default: z.boolean(),
});
export const ReadyFrame = z.object({
  type: z.literal('ready'),
  protocol: z.literal(PROTOCOL_VERSION),
  sessionId: z.string(),
  userId: z.string(),
  conversationId: id,
  models: z.array(ModelInfo),
  agents: z.array(AgentInfo).min(1),
  limits: z.object({ maxFrameBytes: z.number().int(), maxContentChars: z.number().int() }),
});
export const SubscribedFrame = z.object({
  type: z.literal('subscribed'),
  conversationId: id,
  lastSeq: z.number().int().min(0),
  firstRetainedSeq: z.number().int().min(0),
  runningTurnId: z.string().nullable(),
  /** Requests of the running turn still waiting for an answer. */
  pendingApprovals: z.array(z.object({ turnId: z.string(), ...approvalRequest })),
});
export type PendingApproval = z.infer<typeof SubscribedFrame>['pendingApprovals'][number];
export const HistoryMessage = z.object({
  role: z.enum(['user', 'assistant', 'tool']),
  content: z.string(),
  toolCalls: z
    .array(z.object({ id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }))
    .optional(),
  toolCallId: z.string().optional(),
  name: z.string().optional(),
  createdAt: z.string(),
  /** The turn that wrote the message. */
  turnId: z.string(),
  /** On assistant messages, the stop reason of their turn when it was not `end_turn`. */
  stopReason: StopReason.optional(),
  /** On the last assistant message of a turn: the turn's `turn-end.usage`, as sent. */
  usage: usage.optional(),
});
export type HistoryMessage = z.infer<typeof HistoryMessage>;
export const HistoryFrame = z.object({
  type: z.literal('history'),
  conversationId: id,
  messages: z.array(HistoryMessage),
});
export const PongFrame = z.object({
  type: z.literal('pong'),
  id: z.union([z.string(), z.number()]).optional(),
});

export const ServerFrame = z.union([
  TurnFrame,
  ErrorFrame,
  ReadyFrame,
  SubscribedFrame,
  HistoryFrame,
  PongFrame,
]);
export type ServerFrame = z.infer<typeof ServerFrame>;
export type ModelInfo = z.infer<typeof ModelInfo>;
export type AgentInfo = z.infer<typeof AgentInfo>;
