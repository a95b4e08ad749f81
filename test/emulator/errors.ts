/**
 * Bedrock's error responses: the HTTP status of each error name, and how an error travels as a
 * whole response (status + `x-amzn-errortype`) or as a ConverseStream exception event.
 */

/** Error names with the HTTP status Bedrock Runtime answers them with. */
export const BEDROCK_ERROR_STATUS = {
  AccessDeniedException: 403,
  MissingAuthenticationTokenException: 403,
  UnrecognizedClientException: 403,
  ValidationException: 400,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ThrottlingException: 429,
  ServiceQuotaExceededException: 400,
  ModelNotReadyException: 429,
  ModelErrorException: 424,
  ModelStreamErrorException: 424,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
  UnknownOperationException: 404,
} as const;

export type BedrockErrorName = keyof typeof BEDROCK_ERROR_STATUS;

/** The value of `x-amzn-errortype` that the SDK takes the error name from (before the colon). */
export function errorTypeHeader(name: string): string {
  return `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/`;
}

/** Status for a name; names outside the table are server faults. */
export function statusOf(name: string): number {
  return (BEDROCK_ERROR_STATUS as Record<string, number>)[name] ?? 500;
}

/** `throttlingException` (event-stream spelling) → `ThrottlingException` (HTTP spelling). */
export function httpErrorName(exception: string): string {
  return exception.charAt(0).toUpperCase() + exception.slice(1);
}

/** `ThrottlingException` → `throttlingException`, the `:exception-type` of a stream event. */
export function streamExceptionName(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

/** Default messages, worded as Bedrock words them. */
export function defaultErrorMessage(name: string): string {
  switch (name) {
    case 'AccessDeniedException':
      return "You don't have access to the model with the specified model ID.";
    case 'MissingAuthenticationTokenException':
      return 'Missing Authentication Token';
    case 'ThrottlingException':
      return 'Too many requests, please wait before trying again.';
    case 'ResourceNotFoundException':
      return 'The provided model identifier is invalid.';
    case 'ModelTimeoutException':
      return 'Model has timed out in processing the request. Try your request again.';
    case 'ServiceUnavailableException':
      return 'Bedrock is unable to process your request.';
    case 'ModelErrorException':
      return 'The model produced an invalid response.';
    case 'ModelStreamErrorException':
      return 'The model stream was interrupted.';
    case 'ValidationException':
      return 'Malformed input request, please reformat your input and try again.';
    default:
      return 'The server encountered an internal error while processing the request.';
  }
}
