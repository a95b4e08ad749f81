import type { ErrorCode, ErrorFrame, TurnErrorFrame } from './frames.ts';

/**
 * Codes the client itself gives, beside the protocol's: the connection is gone for good
 * (`connection_closed`: `close()` was called, reconnecting is off, or the gateway refused
 * the socket in a way retrying cannot fix), or the caller's AbortSignal fired (`aborted`).
 */
export type ClientErrorCode = 'connection_closed' | 'aborted';

/** How a socket ended, as far as the client could tell. */
export interface CloseInfo {
  /** The WebSocket close code (1006 when the connection dropped without a close frame). */
  code: number;
  reason: string;
  /** The HTTP status of a refused upgrade, when it is known (Node's `ws` tells it). */
  status?: number | undefined;
  /** What the WebSocket implementation reported as the error, if anything. */
  cause?: unknown;
}

/**
 * Every failure the client reports: a protocol error the gateway sent (a refused chat, a
 * conversation that is not yours…) or one of the client's own codes. `retryable` says
 * whether the same request may succeed later, as the protocol's table does.
 */
export class AgentgateError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly retryable: boolean;
  readonly hints: readonly string[] | undefined;
  readonly requestId: string | undefined;
  readonly conversationId: string | undefined;
  /** For `connection_closed`: how the last socket ended. */
  readonly close: CloseInfo | undefined;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    options: {
      retryable?: boolean;
      hints?: readonly string[] | undefined;
      requestId?: string | undefined;
      conversationId?: string | undefined;
      close?: CloseInfo | undefined;
    } = {},
  ) {
    super(message);
    this.name = 'AgentgateError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.hints = options.hints;
    this.requestId = options.requestId;
    this.conversationId = options.conversationId;
    this.close = options.close;
  }

  /** The error an `error` frame carries. */
  static fromFrame(frame: ErrorFrame | TurnErrorFrame): AgentgateError {
    return new AgentgateError(frame.code, frame.message, {
      retryable: frame.retryable,
      hints: frame.hints,
      requestId: frame.requestId,
      conversationId: frame.conversationId,
    });
  }
}
