import type { Logger } from 'pino';
import type { PendingApproval } from '../protocol/frames.ts';
import { type RedisConnections, whenReady } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import { checkPrefix, conversationKeys } from '../redis/keys.ts';
import { ANSWER_APPROVAL } from '../redis/scripts.ts';
import type { Answer, Approvals } from './approvals.ts';

/** How long one blocking read waits before it looks again (whether it was closed). */
const BLOCK_SECONDS = 5;

export interface RedisApprovalsOptions {
  readonly connections: RedisConnections;
  readonly log: Logger;
  readonly prefix: string;
  readonly ttlSeconds: number;
}

/**
 * Approvals in Redis, shared by every gateway and worker. A request is a field of the
 * conversation's `approvals` hash; its answer is pushed by one script (first answer wins)
 * onto a list that the waiting turn reads with BLPOP, on a connection of its own: the turn
 * waits without polling, and an answer given while Redis briefly failed is read once it
 * is back. A person's answer counts only while the request's turn is the running one, so a
 * request left by a worker that died cannot be answered.
 */
export class RedisApprovals implements Approvals {
  readonly #o: RedisApprovalsOptions;
  readonly #prefix: string;
  #closed = false;

  constructor(options: RedisApprovalsOptions) {
    this.#o = options;
    this.#prefix = checkPrefix(options.prefix);
  }

  async open(conversationId: string, request: PendingApproval): Promise<void> {
    const k = conversationKeys(this.#prefix, conversationId);
    const redis = this.#o.connections.command;
    await redisCall('open an approval request', () =>
      redis
        .multi()
        // An answer left over from an earlier request with this id must not answer this one.
        .del(k.approvalAnswer(request.toolCallId))
        .hset(k.approvals, request.toolCallId, JSON.stringify(request))
        .expire(k.approvals, this.#o.ttlSeconds)
        .exec(),
    );
  }

  async answer(conversationId: string, toolCallId: string, answer: Answer): Promise<boolean> {
    const k = conversationKeys(this.#prefix, conversationId);
    const byPerson = answer.decision === 'approve' || answer.decision === 'reject';
    const answered = await redisCall('answer an approval request', () =>
      ANSWER_APPROVAL.run(
        this.#o.connections.command,
        [k.approvals, k.approvalAnswer(toolCallId), k.running],
        [toolCallId, JSON.stringify(answer), this.#o.ttlSeconds, byPerson ? '1' : '0'],
      ),
    );
    return answered === 1;
  }

  async wait(conversationId: string, toolCallId: string, signal: AbortSignal): Promise<Answer> {
    const key = conversationKeys(this.#prefix, conversationId).approvalAnswer(toolCallId);
    const reader = this.#o.connections.open('blocking', 'approval');
    // Stopped waiting: the connection goes at once, not after its blocking read.
    const drop = () => reader.disconnect();
    signal.addEventListener('abort', drop, { once: true });
    try {
      while (!this.#closed) {
        signal.throwIfAborted();
        try {
          await whenReady(reader, BLOCK_SECONDS * 1000);
          const popped = await reader.blpop(key, BLOCK_SECONDS);
          if (popped) return JSON.parse(popped[1]) as Answer;
        } catch (error) {
          if (this.#closed || signal.aborted) break;
          this.#o.log.warn({ err: error }, 'waiting for an approval failed; trying again');
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      signal.throwIfAborted();
      throw new Error('Approvals are closed.');
    } finally {
      signal.removeEventListener('abort', drop);
      reader.disconnect();
    }
  }

  async pending(conversationId: string, runningTurnId: string | null): Promise<PendingApproval[]> {
    if (runningTurnId === null) return [];
    const k = conversationKeys(this.#prefix, conversationId);
    const all = await redisCall('read approval requests', () =>
      this.#o.connections.command.hgetall(k.approvals),
    );
    return Object.values(all)
      .map((json) => JSON.parse(json) as PendingApproval)
      .filter((request) => request.turnId === runningTurnId);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
