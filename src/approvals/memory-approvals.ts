import type { PendingApproval } from '../protocol/frames.ts';
import type { Answer, Approvals } from './approvals.ts';

interface Request {
  readonly pending: PendingApproval;
  answer: Answer | undefined;
  readonly waiters: ((answer: Answer) => void)[];
}

/** Approvals of one process (the embedded default): answers and waits in memory. */
export class MemoryApprovals implements Approvals {
  /** By conversation, then tool call id; a request leaves once its answer is taken. */
  readonly #requests = new Map<string, Map<string, Request>>();

  async open(conversationId: string, pending: PendingApproval): Promise<void> {
    const requests = this.#requests.get(conversationId) ?? new Map<string, Request>();
    this.#requests.set(conversationId, requests);
    requests.set(pending.toolCallId, { pending, answer: undefined, waiters: [] });
  }

  async answer(conversationId: string, toolCallId: string, answer: Answer): Promise<boolean> {
    const request = this.#requests.get(conversationId)?.get(toolCallId);
    if (!request || request.answer) return false;
    request.answer = answer;
    for (const waiter of request.waiters.splice(0)) waiter(answer);
    return true;
  }

  wait(conversationId: string, toolCallId: string, signal: AbortSignal): Promise<Answer> {
    const requests = this.#requests.get(conversationId);
    const request = requests?.get(toolCallId);
    if (!request) return Promise.reject(new Error(`No approval request ${toolCallId}.`));
    // The request leaves with its waiter, answered or not: nothing is left to answer.
    const leave = () => {
      requests!.delete(toolCallId);
      if (requests!.size === 0) this.#requests.delete(conversationId);
    };
    if (request.answer) {
      leave();
      return Promise.resolve(request.answer);
    }
    return new Promise((resolve, reject) => {
      const stop = () => {
        leave();
        reject(signal.reason);
      };
      if (signal.aborted) return stop();
      signal.addEventListener('abort', stop, { once: true });
      request.waiters.push((answer) => {
        signal.removeEventListener('abort', stop);
        leave();
        resolve(answer);
      });
    });
  }

  async pending(conversationId: string, runningTurnId: string | null): Promise<PendingApproval[]> {
    return [...(this.#requests.get(conversationId)?.values() ?? [])]
      .filter((r) => !r.answer && r.pending.turnId === runningTurnId)
      .map((r) => r.pending);
  }

  /** Whoever still waits is answered `cancelled`: the process is going away. */
  async close(): Promise<void> {
    for (const requests of this.#requests.values()) {
      for (const request of requests.values()) {
        request.answer ??= { decision: 'cancelled' };
        for (const waiter of request.waiters.splice(0)) waiter(request.answer);
      }
    }
    this.#requests.clear();
  }
}
