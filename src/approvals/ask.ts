import { dispatchCustomEvent } from '@langchain/core/callbacks/dispatch';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';
import {
  APPROVAL_REQUEST_EVENT,
  APPROVAL_RESULT_EVENT,
  type ApprovalRequestData,
  type ApprovalResultData,
} from '../agent/normalizer.ts';
import type { ApprovalMetrics } from '../metrics.ts';
import type { Answer, Approvals } from './approvals.ts';

/** How an agent asks a person before a tool runs. */
export interface ApprovalPolicy {
  readonly approvals: Approvals;
  /** Whether this tool needs approval (an agent's `approve`, APPROVAL_REQUIRED_TOOLS, its metadata). */
  readonly needed: (tool: StructuredToolInterface) => boolean;
  /** APPROVAL_TIMEOUT_SECONDS, in ms: no answer by then is `timeout`. */
  readonly timeoutMs: number;
  readonly metrics?: ApprovalMetrics;
}

/** Where the request belongs: the turn's conversation and id (the turn's `configurable`). */
export interface ApprovalPlace {
  readonly conversationId: string;
  readonly turnId: string;
}

/** After the timeout, how long an answer written but not delivered (Redis away) may take. */
const DELIVERY_GRACE_MS = 10_000;

/**
 * Asks for approval of one tool call and waits for the answer: opens the request (so that
 * an answer can find it), sends `approval-request`, then waits, holding nothing but a Redis
 * read, for the first answer: a person's on any gateway, the timeout's, or the turn's
 * cancel. The timeout and the cancel are answers written like a person's, so that exactly
 * one counts; when one cannot be written (Redis is away) it counts here all the same, so
 * the turn never waits past its deadline. Sends `approval-result` and returns the answer;
 * a cancelled turn throws its abort instead (its frames then close the request, see the
 * runner).
 */
export async function askApproval(
  policy: ApprovalPolicy,
  place: ApprovalPlace,
  call: Omit<ApprovalRequestData, 'expiresAt'>,
  config: RunnableConfig,
): Promise<Answer> {
  const { approvals } = policy;
  const { conversationId, turnId } = place;
  const signal = config.signal;
  const expiresAt = new Date(Date.now() + policy.timeoutMs).toISOString();
  let settle: (answer: Answer) => void = () => {};
  const settledHere = new Promise<Answer>((resolve) => {
    settle = resolve;
  });
  const end = (decision: 'timeout' | 'cancelled') => () => {
    approvals
      .answer(conversationId, call.toolCallId, { decision })
      .catch(() => settle({ decision }));
  };
  const stopWaiting = new AbortController();
  const timers: NodeJS.Timeout[] = [];
  const cancel = end('cancelled');
  let answered = false;
  try {
    await approvals.open(conversationId, { turnId, ...call, expiresAt });
    await dispatchCustomEvent(
      APPROVAL_REQUEST_EVENT,
      { ...call, expiresAt } satisfies ApprovalRequestData,
      config,
    );
    const asked = performance.now();
    timers.push(setTimeout(end('timeout'), policy.timeoutMs));
    timers.push(
      setTimeout(() => settle({ decision: 'timeout' }), policy.timeoutMs + DELIVERY_GRACE_MS),
    );
    if (signal?.aborted) cancel();
    else signal?.addEventListener('abort', cancel, { once: true });
    const answer = await Promise.race([
      approvals.wait(conversationId, call.toolCallId, stopWaiting.signal),
      settledHere,
    ]);
    answered = true;
    policy.metrics?.approvals.inc({ decision: answer.decision });
    policy.metrics?.approvalSeconds.observe((performance.now() - asked) / 1000);
    signal?.throwIfAborted();
    await dispatchCustomEvent(
      APPROVAL_RESULT_EVENT,
      { toolCallId: call.toolCallId, ...answer } satisfies ApprovalResultData,
      config,
    );
    return answer;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    signal?.removeEventListener('abort', cancel);
    stopWaiting.abort();
    // A request that got no answer here (the turn failed around it) is closed for good.
    if (!answered) end('cancelled')();
  }
}

/** What the model is told of a call that did not run: who decided, and why. */
export function notRunResult(name: string, answer: Answer, timeoutMs: number): string {
  switch (answer.decision) {
    case 'reject':
      return `Error: ${answer.decidedBy ?? 'The user'} rejected this call of ${name}; it was not run.${answer.reason ? ` Reason: ${answer.reason}` : ''}`;
    case 'timeout':
      return `Error: No one answered the request to approve this call of ${name} within ${Math.round(timeoutMs / 1000)} s; it was not run.`;
    default:
      return `Error: This call of ${name} was not approved (${answer.decision}); it was not run.`;
  }
}
