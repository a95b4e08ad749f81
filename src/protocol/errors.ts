/**
 * The protocol's error codes: one table, the only place a code, its HTTP status, its
 * default `retryable` flag and its plain-words remedies are defined. Codes are never
 * renamed or reused.
 */
export const ERROR_CODES = {
  bad_frame: { status: 400, retryable: false },
  frame_too_large: { status: 413, retryable: false },
  unknown_type: { status: 400, retryable: false },
  rate_limited: { status: 429, retryable: true },
  unauthorized: { status: 401, retryable: false },
  forbidden: { status: 403, retryable: false },
  not_found: { status: 404, retryable: false },
  replay_gap: { status: 409, retryable: false },
  turn_in_progress: { status: 409, retryable: true },
  unknown_model: { status: 400, retryable: false },
  unknown_agent: { status: 400, retryable: false },
  no_pending_approval: { status: 409, retryable: false },
  aws_credentials_missing: {
    status: 502,
    retryable: false,
    hints: [
      'Run `aws configure` to set up default credentials.',
      'Or set AWS_PROFILE to a profile in ~/.aws/credentials or ~/.aws/config.',
      'For SSO profiles run `aws sso login --profile <your-profile>` and set AWS_PROFILE.',
      'Check that the IAM identity is allowed bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream.',
    ],
  },
  aws_access_denied: {
    status: 502,
    retryable: false,
    hints: [
      'Enable access to this model in the AWS console: Bedrock → Model access.',
      'Check that the model is available in the configured region (AWS_DEFAULT_REGION).',
      "Check that the IAM policy's bedrock:InvokeModel statement includes this model's ARN.",
    ],
  },
  bedrock_unreachable: {
    status: 502,
    retryable: true,
    hints: [
      'Set AWS_DEFAULT_REGION to a region where Bedrock is offered (for example us-east-1).',
      'Bedrock is not available in every AWS region; check the model is offered in yours.',
      'Check network access to the Bedrock endpoint (proxy, firewall, AWS_ENDPOINT_URL_BEDROCK_RUNTIME).',
    ],
  },
  bedrock_throttled: {
    status: 429,
    retryable: true,
    hints: [
      'Bedrock throttled this request after every retry; wait a little and try again.',
      'Raise BEDROCK_MAX_ATTEMPTS, or ask AWS for a higher quota for this model.',
    ],
  },
  model_error: { status: 502, retryable: false },
  unavailable: { status: 503, retryable: true },
  worker_lost: { status: 503, retryable: true },
  internal: { status: 500, retryable: false },
} as const satisfies Record<
  string,
  { status: number; retryable: boolean; hints?: readonly string[] }
>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for a client: a protocol code, a plain message and whether to retry. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly hints: readonly string[] | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; hints?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
    const entry: { retryable: boolean; hints?: readonly string[] } = ERROR_CODES[code];
    this.retryable = options.retryable ?? entry.retryable;
    this.hints = options.hints ?? entry.hints;
  }
}

/** The body of an error, on WebSocket (`{type: 'error', ...body}`) and HTTP (`{error: body}`). */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
  hints?: string[];
  requestId?: string;
}

/** Builds every error body the gateway sends, from a ProtocolError and the table. */
export function errorBody(error: ProtocolError, requestId?: string): ErrorBody {
  return {
    code: error.code,
    message: error.message,
    retryable: error.retryable,
    ...(error.hints ? { hints: [...error.hints] } : {}),
    ...(requestId !== undefined ? { requestId } : {}),
  };
}

/** The HTTP status of an error code, from the table. */
export function httpStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/** WebSocket close codes the gateway uses. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  /** Sent by the WebSocket layer itself, for a text frame that is not valid UTF-8. */
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  /** Redis was unreachable too long during a turn: reconnect, then subscribe with afterSeq. */
  serviceRestart: 1012,
  tryAgainLater: 1013,
} as const;
