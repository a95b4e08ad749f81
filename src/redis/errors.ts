import { ReplyError } from 'ioredis';
import { ProtocolError } from '../protocol/errors.ts';

// Replies that mean "Redis cannot serve right now", not "this command is wrong".
const TRANSIENT_REPLIES =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM)\b/;

/**
 * Turns a failed Redis call into what a client should see: `unavailable` (retryable) when
 * Redis cannot be reached or cannot serve; any other error reply is a bug and passes on.
 */
export function asUnavailable(error: unknown, what: string): unknown {
  if (error instanceof ProtocolError) return error;
  if (error instanceof ReplyError && !TRANSIENT_REPLIES.test((error as Error).message))
    return error;
  return new ProtocolError('unavailable', `Redis is unavailable (${what}); try again shortly.`, {
    cause: error,
  });
}

/** Runs Redis calls; failures become `unavailable` as {@link asUnavailable} says. */
export async function redisCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asUnavailable(error, what);
  }
}
