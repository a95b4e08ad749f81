/**
 * Types of the Bedrock Runtime emulator: what a test scripts (replies) and what it reads back
 * (recorded requests). The wire shapes of Bedrock's JSON live beside the code that reads them.
 */

import type { BedrockErrorName } from './errors.ts';

/** A content block of a scripted assistant message. */
export type Block = TextBlock | ToolUseBlock | ReasoningBlock | RedactedReasoningBlock;

export interface TextBlock {
  text: string;
}

export interface ToolUseBlock {
  /** `toolUseId` is generated (`tooluse_<random>`) when absent. */
  toolUse: { toolUseId?: string; name: string; input: Record<string, unknown> };
}

export interface ReasoningBlock {
  reasoning: string;
  /**
   * Default: the emulator signs the text (base64 HMAC-SHA256 under a secret of its own), so the
   * block verifies when a client sends it back. A string is sent as given (and fails that check
   * unless it is the emulator's); `null` sends no signature.
   */
  signature?: string | null;
}

/** Reasoning the model's safety system encrypted: sent as `redactedContent`, taken back as is. */
export interface RedactedReasoningBlock {
  redactedReasoning: Uint8Array;
}

export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'guardrail_intervened';

/** The policy a guardrail intervention names in its trace. */
export type GuardrailPolicy =
  | { topic: string }
  | { word: string }
  | { contentFilter: 'HATE' | 'INSULTS' | 'MISCONDUCT' | 'PROMPT_ATTACK' | 'SEXUAL' | 'VIOLENCE' };

/**
 * A guardrail stepping in. Only a request with a `guardrailConfig` can be blocked: playing this
 * on one without throws (a test bug), and the client sees an InternalServerException.
 */
export interface GuardrailIntervention {
  /**
   * How many of the reply's stream events go out before the guardrail blocks the rest (default
   * 0; `messageStart` always goes out). 0 blocks the prompt (the trace's `inputAssessment`),
   * more blocks the answer (`outputAssessments`, with the withheld text as `modelOutput`).
   * Converse sends none of the reply either way, only the blocked message.
   */
  afterEvents?: number;
  /** Default: "Sorry, the model cannot answer this question.", the default of a guardrail. */
  blockedMessage?: string;
  /** Default: a denied topic named "Denied topic". */
  policy?: GuardrailPolicy;
}

/** The exception types a ConverseStream response may carry mid-stream. */
export type StreamExceptionName =
  | 'modelStreamErrorException'
  | 'throttlingException'
  | 'internalServerException'
  | 'validationException'
  | 'serviceUnavailableException';

/** An assistant message, answered as Converse JSON or as a ConverseStream event stream. */
export interface MessageReply {
  blocks: Block[];
  /** Default: `tool_use` when any block is a toolUse, else `end_turn`. */
  stopReason?: StopReason;
  /**
   * Default: about one token per four characters of request and reply text, the request's
   * split between prompt-cache reads, writes and the rest as the emulator's cache found it.
   * The cache fields given here replace the computed ones; `totalTokens` is always the sum.
   */
  usage?: {
    inputTokens: number;
    outputTokens: number;
    cacheReadInputTokens?: number;
    cacheWriteInputTokens?: number;
  };
  /**
   * Stream text, reasoning and tool input in deltas of this many UTF-16 code units (default 4).
   * A delta may end inside a grapheme cluster but never inside a surrogate pair.
   */
  chunkChars?: number;
  /** Explicit deltas of the first text block; they must join to exactly its text. */
  chunks?: string[];
  /** Pause between stream events, in ms. Default: the emulator's `paceMs` (default 0). */
  delayMs?: number;
  /**
   * Pause before the first stream event, in ms (default 0): the model's time to first token.
   * The response head goes out at once, as Bedrock's does. Converse: added to its wait.
   */
  firstEventDelayMs?: number;
  /**
   * Stream: send this many events, then an exception message, then end the response.
   * Converse: answer the exception as an HTTP error of the same name.
   */
  failAfterEvents?: {
    events: number;
    exception: StreamExceptionName | (string & {});
    message?: string;
  };
  /** Send this many events (Converse: nothing), then hold the response open until the client aborts. */
  hangAfterEvents?: number;
  /**
   * The request's guardrail blocks this reply: the stream ends with the blocked message as text,
   * `stopReason: "guardrail_intervened"` and, when the request asked for a trace, `trace` in
   * its `metadata` event (Converse: the blocked message, stop reason and top-level `trace`).
   * Cannot be combined with `failAfterEvents` or `hangAfterEvents`.
   */
  guardrail?: GuardrailIntervention;
}

/** An HTTP error response as Bedrock sends it (`x-amzn-errortype` plus `{"message"}`). */
export interface ErrorReply {
  error: BedrockErrorName;
  message?: string;
}

export type Reply = MessageReply | ErrorReply;

export type Operation = 'converse' | 'converse-stream';

/** One request to a Converse or ConverseStream route, as the emulator saw it. */
export interface RecordedRequest {
  /** 1, 2, 3… in arrival order. */
  id: number;
  operation: Operation;
  /** URL-decoded: ARNs arrive as `arn%3Aaws%3Abedrock%3A…`. */
  modelId: string;
  /** The parsed JSON request body (`undefined` when it was not JSON). */
  body: ConverseRequestBody | undefined;
  /** From the SigV4 `Authorization` header; the signature is not verified. */
  accessKeyId: string | undefined;
  region: string | undefined;
  service: string | undefined;
  httpVersion: '1.1' | '2.0';
  /** Which accepted TCP connection carried the request (1, 2, 3…). */
  connectionId: number;
  /** HTTP status of the response, once its head was sent. */
  status: number | undefined;
  /** True once the client closed the stream or socket before the response ended. */
  aborted: boolean;
  /** `Date.now()` when the request arrived. */
  startedAt: number;
}

/** The parts of a Converse request body the emulator reads; anything else passes through. */
export interface ConverseRequestBody {
  messages?: WireMessage[];
  system?: WireSystemBlock[];
  toolConfig?: { tools?: WireTool[] };
  inferenceConfig?: { maxTokens?: number; temperature?: number; [key: string]: unknown };
  /** `thinking: {type: "enabled", budget_tokens}` turns on Claude's extended thinking. */
  additionalModelRequestFields?: { thinking?: unknown; [key: string]: unknown };
  guardrailConfig?: WireGuardrailConfig;
  [key: string]: unknown;
}

/** `CachePointBlock`: the prompt up to here may be cached. */
export interface WireCachePoint {
  type?: unknown;
  ttl?: unknown;
}

export interface WireSystemBlock {
  text?: string;
  cachePoint?: WireCachePoint;
  [key: string]: unknown;
}

export interface WireTool {
  toolSpec?: { name?: string; [key: string]: unknown };
  cachePoint?: WireCachePoint;
  [key: string]: unknown;
}

/** `GuardrailConfiguration` (Converse) or `GuardrailStreamConfiguration` (ConverseStream). */
export interface WireGuardrailConfig {
  guardrailIdentifier?: unknown;
  guardrailVersion?: unknown;
  trace?: unknown;
  streamProcessingMode?: unknown;
}

export interface WireMessage {
  role?: string;
  content?: WireContentBlock[];
}

export interface WireContentBlock {
  text?: string;
  toolUse?: { toolUseId?: string; name?: string; input?: unknown };
  toolResult?: {
    toolUseId?: string;
    content?: { text?: string; json?: unknown }[];
    status?: string;
  };
  reasoningContent?: {
    reasoningText?: { text?: string; signature?: string };
    /** Base64 on the wire. */
    redactedContent?: string;
  };
  cachePoint?: WireCachePoint;
  /** Text a guardrail assesses; when a request has any, it assesses nothing else. */
  guardContent?: { text?: { text?: string } };
  [key: string]: unknown;
}

export interface EmulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /**
   * Default pause between stream events of every reply, in ms. When unset, scripted replies
   * are not paced and the default demo script streams at a realistic pace (about 20 ms).
   */
  paceMs?: number;
  /**
   * Answers every request no queued reply answers, in place of the demo script: a fixed
   * script for a whole run (the benchmark's, test/emulator/bench-script.ts) without
   * queueing a reply per request.
   */
  script?: (body: ConverseRequestBody) => Reply;
  /**
   * Requests of a model that may be in flight at once (Bedrock's on-demand concurrency quota);
   * one more gets a ThrottlingException. Key `*`: every model without a key of its own.
   */
  concurrencyQuotas?: Record<string, number>;
  /** The clock prompt-cache entries live by, in ms (default `Date.now`). */
  now?: () => number;
}
