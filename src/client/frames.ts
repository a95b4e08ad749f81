/**
 * The protocol's frames as plain TypeScript types, for the client library. They are written
 * out here rather than inferred from the gateway's zod schemas (src/protocol/frames.ts) so
 * that the client carries no runtime dependency into a browser bundle;
 * test/client/frames.test.ts holds them equal to the schemas' types, so they cannot drift.
 * docs/protocol.md is the contract.
 */

/** Every error code of the protocol (docs/protocol.md "Errors"); never renamed or reused. */
export type ErrorCode =
  | 'bad_frame'
  | 'frame_too_large'
  | 'unknown_type'
  | 'rate_limited'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'replay_gap'
  | 'turn_in_progress'
  | 'unknown_model'
  | 'unknown_agent'
  | 'no_pending_approval'
  | 'aws_credentials_missing'
  | 'aws_access_denied'
  | 'bedrock_unreachable'
  | 'bedrock_throttled'
  | 'model_error'
  | 'unavailable'
  | 'worker_lost'
  | 'internal';

/** How a turn ended (`turn-end.stopReason`). */
export type StopReason =
  | 'end_turn'
  | 'max_tokens'
  | 'content_filtered'
  | 'cancelled'
  | 'error'
  | 'step_limit';

/** How a request for approval was answered; `timeout` and `cancelled` are nobody's answer. */
export type ApprovalDecision = 'approve' | 'reject' | 'timeout' | 'cancelled';

/**
 * Token counts of a turn, summed over its model calls, as Bedrock counts them:
 * `inputTokens` excludes the tokens read from or written to the prompt cache.
 */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  /** USD, when the price of every model the turn called is known. */
  costUsd?: number | undefined;
}

// ---- client → server ----------------------------------------------------------------

export interface ChatFrame {
  type: 'chat';
  content: string;
  conversationId?: string | undefined;
  model?: string | undefined;
  agent?: string | undefined;
  requestId?: string | undefined;
}
export interface SubscribeFrame {
  type: 'subscribe';
  conversationId: string;
  afterSeq?: number | undefined;
}
export interface UnsubscribeFrame {
  type: 'unsubscribe';
  conversationId: string;
}
export interface CancelFrame {
  type: 'cancel';
  conversationId: string;
}
export interface HistoryRequestFrame {
  type: 'history';
  conversationId?: string | undefined;
  limit?: number | undefined;
}
export interface ApproveFrame {
  type: 'approve';
  conversationId: string;
  toolCallId: string;
  decision: 'approve' | 'reject';
  reason?: string | undefined;
  requestId?: string | undefined;
}
export interface PingFrame {
  type: 'ping';
  id?: string | number | undefined;
}

/** A frame a client sends. */
export type ClientFrame =
  | ChatFrame
  | SubscribeFrame
  | UnsubscribeFrame
  | CancelFrame
  | HistoryRequestFrame
  | ApproveFrame
  | PingFrame;

// ---- server → client: turn frames ---------------------------------------------------

/** What every frame of a turn carries. */
interface TurnFields {
  conversationId: string;
  turnId: string;
  /** Per conversation, from 1, up by exactly one per turn frame across all its turns. */
  seq: number;
}

export interface TurnStartFrame extends TurnFields {
  type: 'turn-start';
  model: string;
  agent: string;
  requestId?: string | undefined;
  userMessage: { content: string };
}
export interface TokenFrame extends TurnFields {
  type: 'token';
  text: string;
}
export interface ReasoningFrame extends TurnFields {
  type: 'reasoning';
  text: string;
}
export interface ToolStartFrame extends TurnFields {
  type: 'tool-start';
  toolCallId: string;
  name: string;
  input: Record<string, unknown>;
}
export interface ToolEndFrame extends TurnFields {
  type: 'tool-end';
  toolCallId: string;
  name: string;
  output: string;
  truncated?: true | undefined;
  isError: boolean;
  durationMs: number;
}
export interface ApprovalRequestFrame extends TurnFields {
  type: 'approval-request';
  toolCallId: string;
  name: string;
  input: Record<string, unknown>;
  /** ISO-8601: no answer by then is `timeout`. */
  expiresAt: string;
}
export interface ApprovalResultFrame extends TurnFields {
  type: 'approval-result';
  toolCallId: string;
  decision: ApprovalDecision;
  decidedBy?: string | undefined;
  reason?: string | undefined;
}
export interface TurnEndFrame extends TurnFields {
  type: 'turn-end';
  stopReason: StopReason;
  text: string;
  usage: Usage;
  durationMs: number;
  model: string;
}

/** The body of every `error` frame. */
interface ErrorFields {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  hints?: string[] | undefined;
  requestId?: string | undefined;
}

/** The one `error` a failed turn sends before its `turn-end`. */
export interface TurnErrorFrame extends TurnFields, ErrorFields {
  type: 'error';
}

/** A frame that belongs to a turn: it carries `conversationId`, `turnId` and `seq`. */
export type TurnFrame =
  | TurnStartFrame
  | TokenFrame
  | ReasoningFrame
  | ToolStartFrame
  | ToolEndFrame
  | ApprovalRequestFrame
  | ApprovalResultFrame
  | TurnEndFrame
  | TurnErrorFrame;

// ---- server → client: the rest ------------------------------------------------------

/** An error outside a turn; `conversationId` names the conversation when it concerns one. */
export interface ErrorFrame extends ErrorFields {
  type: 'error';
  conversationId?: string | undefined;
}
export interface ModelInfo {
  id: string;
  label: string;
  region: string;
  default: boolean;
}
export interface AgentInfo {
  id: string;
  description: string;
  default: boolean;
}
export interface ReadyFrame {
  type: 'ready';
  protocol: 1;
  sessionId: string;
  userId: string;
  /** A fresh conversation owned by this user; chats that name none go there. */
  conversationId: string;
  models: ModelInfo[];
  agents: AgentInfo[];
  limits: { maxFrameBytes: number; maxContentChars: number };
}
export interface PendingApproval {
  turnId: string;
  toolCallId: string;
  name: string;
  input: Record<string, unknown>;
  expiresAt: string;
}
export interface SubscribedFrame {
  type: 'subscribed';
  conversationId: string;
  lastSeq: number;
  firstRetainedSeq: number;
  runningTurnId: string | null;
  pendingApprovals: PendingApproval[];
}
export interface HistoryMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  toolCalls?: { id: string; name: string; input: Record<string, unknown> }[] | undefined;
  toolCallId?: string | undefined;
  name?: string | undefined;
  createdAt: string;
  turnId: string;
  stopReason?: StopReason | undefined;
  /** On the last assistant message of a turn: the turn's `turn-end.usage`, as sent. */
  usage?: Usage | undefined;
}
export interface HistoryFrame {
  type: 'history';
  conversationId: string;
  messages: HistoryMessage[];
}
export interface PongFrame {
  type: 'pong';
  id?: string | number | undefined;
}

/** A frame the gateway sends. */
export type ServerFrame =
  | TurnFrame
  | ErrorFrame
  | ReadyFrame
  | SubscribedFrame
  | HistoryFrame
  | PongFrame;

/** The `type` of every turn frame: frames with one of these carry a `seq`. */
export const TURN_FRAME_TYPES: ReadonlySet<string> = new Set([
  'turn-start',
  'token',
  'reasoning',
  'tool-start',
  'tool-end',
  'approval-request',
  'approval-result',
  'turn-end',
]);

/** True for a frame that belongs to a turn (an `error` counts when it carries a `turnId`). */
export function isTurnFrame(frame: ServerFrame): frame is TurnFrame {
  return TURN_FRAME_TYPES.has(frame.type) || (frame.type === 'error' && 'turnId' in frame);
}
