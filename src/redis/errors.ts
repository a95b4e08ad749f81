import { ReplyError } from 'ioredis';
import { ProtocolError } from '../protocol/errors.ts';

// Replies that mean "Redis cannot serve right now", not "this command is wrong".
const TRANSIENT_REPLIES =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|OOM)\b/;

/**
 * Turns a failed Redis call into what a client should see: `unavailable` (retryable) when
 * Redis cannot be reached or cannot serve; any other error reply is a bug and passes on.
 */
function asUnavailable(error: unknown, what: string): unknown {
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

/** What ioredis's `exec()` resolves: one `[error, reply]` per queued command, or null. */
type ExecReplies = [error: Error | null, reply: unknown][] | null;

/**
 * Runs a MULTI and returns its replies; throws the first error inside it (ioredis resolves
 * `exec()` even when a queued command failed) or when the transaction was discarded.
 */
export async function execOrThrow(exec: Promise<ExecReplies>): Promise<unknown[]> {
  const replies = await exec;
  if (!replies) throw new Error('Redis discarded the transaction (EXEC returned null).');
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return replies.map(([, reply]) => reply);
}
