/**
 * Types of the Bedrock Runtime emulator: what a test scripts (replies) and what it reads back
 * (recorded requests). The wire shapes of Bedrock's JSON live beside the code that reads them.
 */

import type { BedrockErrorName } from './errors.ts';

/** A content block of a scripted assistant message. */
export type Block = TextBlock | ToolUseBlock | ReasoningBlock;

export interface TextBlock {
  text: string;
}

export interface ToolUseBlock {
  /** `toolUseId` is generated (`tooluse_<random>`) when absent. */
  toolUse: { toolUseId?: string; name: string; input: Record<string, unknown> };
}

export interface ReasoningBlock {
  reasoning: string;
  signature?: string;
}

export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens';

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
  /** Default: about one token per four characters of request and reply text. */
  usage?: { inputTokens: number; outputTokens: number };
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
  system?: { text?: string }[];
  toolConfig?: { tools?: { toolSpec?: { name?: string } }[] };
  [key: string]: unknown;
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
}
