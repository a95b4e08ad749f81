import type { ApprovalDecision, PendingApproval } from '../protocol/frames.ts';

/** How a request was answered, by whom (for `approve` and `reject`), and why. */
export interface Answer {
  readonly decision: ApprovalDecision;
  readonly decidedBy?: string;
  readonly reason?: string;
}

/**
 * Requests for a person's approval of a tool call, shared by every process: the worker
 * running the turn opens a request and waits; an `approve` frame on any gateway answers it;
 * the first answer wins, exactly once, whoever gives it (a person, the timeout, a cancel).
 */
export interface Approvals {
  /** Opens a request; done before its `approval-request` frame is published. */
  open(conversationId: string, request: PendingApproval): Promise<void>;
  /**
   * Answers a request. False when there is none to answer (never opened, answered already,
   * or its turn is no longer the conversation's running turn).
   */
  answer(conversationId: string, toolCallId: string, answer: Answer): Promise<boolean>;
  /**
   * Resolves with the answer once there is one; rejects once `signal` aborts (the waiter
   * stopped waiting for another reason) or the approvals close.
   */
  wait(conversationId: string, toolCallId: string, signal: AbortSignal): Promise<Answer>;
  /** The requests of the conversation's running turn still waiting for an answer. */
  pending(conversationId: string, runningTurnId: string | null): Promise<PendingApproval[]>;
  close(): Promise<void>;
}
