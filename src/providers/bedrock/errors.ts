import { ProtocolError } from '../../protocol/errors.ts';

interface AwsLikeError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ProviderError',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'ExpiredTokenException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
]);
const THROTTLING_ERRORS = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'ServiceQuotaExceededException',
]);

/** Is this the cancellation of a call rather than its failure? */
export function isAbortError(error: unknown): boolean {
  return chain(error).some((e) => e.name === 'AbortError' || e.name === 'ModelAbortError');
}

/**
 * The one table from SDK, credential and network errors to protocol codes. `where` names
 * the model and region for the message; the message never carries credentials.
 */
export function toProtocolError(
  error: unknown,
  where: { model: string; region: string },
): ProtocolError {
  if (error instanceof ProtocolError) return error;
  const errors = chain(error);
  const named = (names: Set<string>) => errors.find((e) => e.name && names.has(e.name));
  const said = (e: AwsLikeError) => (e.message ? ` Bedrock said: ${e.message.slice(0, 500)}` : '');

  const credentials = named(CREDENTIAL_ERRORS);
  if (credentials) {
    const rejected =
      credentials.name !== 'CredentialsProviderError' && credentials.name !== 'ProviderError';
    return new ProtocolError(
      'aws_credentials_missing',
      rejected
        ? `AWS rejected the credentials for ${where.region} (${credentials.name}).`
        : 'No AWS credentials could be resolved (tried environment keys, AWS_PROFILE or the default profile, SSO, credential_process, web identity, container and instance roles).',
      { cause: error },
    );
  }
  const denied = errors.find((e) => e.name === 'AccessDeniedException');
  if (denied) {
    return new ProtocolError(
      'aws_access_denied',
      `Access to model ${where.model} in ${where.region} was denied.${said(denied)}`,
      { cause: error },
    );
  }
  const throttled = named(THROTTLING_ERRORS);
  if (throttled) {
    return new ProtocolError(
      'bedrock_throttled',
      `Bedrock kept throttling calls to ${where.model} after every retry.${said(throttled)}`,
      { cause: error },
    );
  }
  const network = errors.find(
    (e) => (e.code && NETWORK_CODES.has(e.code)) || e.name === 'TimeoutError',
  );
  if (network) {
    return new ProtocolError(
      'bedrock_unreachable',
      `The Bedrock endpoint for ${where.region} cannot be reached (${network.code ?? network.name}).`,
      { cause: error },
    );
  }
  const top = errors[0] ?? {};
  const status = errors.find((e) => e.$metadata?.httpStatusCode)?.$metadata?.httpStatusCode;
  const transient =
    (status !== undefined && status >= 500) ||
    top.name === 'ModelTimeoutException' ||
    top.name === 'ModelStreamErrorException' ||
    top.name === 'InternalServerException' ||
    top.name === 'ServiceUnavailableException';
  return new ProtocolError(
    'model_error',
    `Model ${where.model} failed${top.name ? ` (${top.name})` : ''}.${said(top)}`,
    { retryable: transient, cause: error },
  );
}

/** The error and its causes, outermost first. */
function chain(error: unknown): AwsLikeError[] {
  const out: AwsLikeError[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && out.length < 8) {
    out.push(current as AwsLikeError);
    current = (current as AwsLikeError).cause;
  }
  return out;
}
