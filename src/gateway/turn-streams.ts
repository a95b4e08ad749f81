import type { Approvals } from '../approvals/approvals.ts';
import type { FrameBus, PublishedFrame } from '../bus/frame-bus.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { ChatFrame } from '../protocol/frames.ts';
import type { ChatAdmission } from './chat-admission.ts';
import type { Conversations } from './conversations.ts';
import type { SubscriptionHub } from './hub.ts';
import { TurnFollower } from './turn-follower.ts';

export interface TurnStreamsDeps {
  readonly bus: FrameBus;
  readonly hub: SubscriptionHub;
  readonly conversations: Conversations;
  readonly admission: ChatAdmission;
  readonly approvals: Approvals;
}

/** A turn an HTTP stream follows, and what it must know to tell it. */
export interface FollowedTurn {
  readonly conversationId: string;
  readonly turnId: string;
  readonly follower: TurnFollower;
  /**
   * Tool calls whose request for approval was answered before the stream began: a replayed
   * `approval-request` of one of these is not waiting any more.
   */
  readonly answered: ReadonlySet<string>;
  /** The stream begins inside the turn (after its `turn-start`): a continuation. */
  readonly continued: boolean;
}

/** One answer to a request for approval, from an HTTP adapter's own way of saying it. */
export interface ApprovalAnswer {
  readonly toolCallId: string;
  readonly decision: 'approve' | 'reject';
  readonly reason?: string;
}

/**
 * What the HTTP adapters (AI SDK, AG-UI) do with turns, whatever their wire format: start
 * one through the gateway's own chat admission, pick up the running one from its first
 * frame, or answer its requests for approval and go on from there. Each gives a
 * {@link FollowedTurn} whose frames come through the same hub and bus as a WebSocket
 * session's, so it works embedded and across processes alike. Closing a follower never
 * cancels its turn: only {@link TurnStreams.cancel} does, as a `cancel` frame would.
 */
export class TurnStreams {
  readonly #d: TurnStreamsDeps;

  constructor(deps: TurnStreamsDeps) {
    this.#d = deps;
  }

  /**
   * Admits `frame` as a chat of `userId` (the checks a WebSocket chat gets) and follows the
   * turn it starts from its `turn-start`. A conversation id nobody has used is created for
   * the caller. Throws the ProtocolError that refuses the chat.
   */
  async chat(userId: string, frame: ChatFrame & { conversationId: string }): Promise<FollowedTurn> {
    const { conversationId } = frame;
    const follower = new TurnFollower(this.#d.hub, conversationId);
    try {
      const turnId = await this.#d.admission.admit(userId, frame, {
        conversationId,
        fresh: undefined,
        claim: true,
        watch: () => follower.open(),
      });
      follower.follow(turnId, { after: 0 });
      return { conversationId, turnId, follower, answered: new Set(), continued: false };
    } catch (error) {
      follower.close();
      throw error;
    }
  }

  /**
   * The conversation's running turn from its first frame, then live; undefined when no turn
   * runs (a conversation not created yet has none). Throws not_found or forbidden for a
   * conversation that is not the caller's, and replay_gap when the turn's first frames are
   * no longer retained.
   */
  async running(userId: string, conversationId: string): Promise<FollowedTurn | undefined> {
    const meta = await this.#d.conversations.access(userId, conversationId, undefined, {
      claim: true,
    });
    if (!meta) return undefined;
    return this.#follow(conversationId, (turnId, frames) => {
      const start = frames[0];
      if (start?.frame.type !== 'turn-start') {
        throw new ProtocolError(
          'replay_gap',
          `The first frames of the running turn ${turnId} are no longer retained; load the history once it ends.`,
        );
      }
      return { after: start.frame.seq - 1, continued: false };
    });
  }

  /**
   * Answers requests for approval of the conversation's running turn, as `userId` (the
   * first answer wins, as for an `approve` frame), then follows the turn from after the
   * latest request answered. Throws no_pending_approval when the running turn asked none of
   * them (or no turn runs).
   */
  async answer(
    userId: string,
    conversationId: string,
    answers: readonly ApprovalAnswer[],
  ): Promise<FollowedTurn> {
    await this.#d.conversations.access(userId, conversationId);
    const wanted = new Set(answers.map((a) => a.toolCallId));
    const refuse = () =>
      new ProtocolError(
        'no_pending_approval',
        `No request for approval of ${[...wanted].join(', ')} is waiting in conversation ${conversationId} (its turn ended, or it was never asked).`,
      );
    const followed = await this.#follow(conversationId, (_turnId, frames) => {
      const asked = frames.filter(
        (p) => p.frame.type === 'approval-request' && wanted.has(p.frame.toolCallId),
      );
      const last = asked.at(-1);
      if (!last) throw refuse();
      return { after: last.frame.seq, continued: true };
    });
    if (!followed) throw refuse();
    try {
      for (const answer of answers) {
        // False when it was answered already (another tab, the timeout): the turn goes on
        // either way, and the stream shows how.
        await this.#d.approvals.answer(conversationId, answer.toolCallId, {
          decision: answer.decision,
          decidedBy: userId,
          ...(answer.reason !== undefined ? { reason: answer.reason } : {}),
        });
      }
    } catch (error) {
      followed.follower.close();
      throw error;
    }
    return { ...followed, answered: new Set([...followed.answered, ...wanted]) };
  }

  /**
   * Asks the conversation's running turn to stop, as a WebSocket `cancel` frame does (only
   * if it is `turnId`, when given): it ends as cancelled, and every stream of it says so.
   * Returns the turn asked to stop; undefined when none runs (a conversation not created
   * yet has none). Throws not_found or forbidden for a conversation that is not the
   * caller's.
   */
  async cancel(
    userId: string,
    conversationId: string,
    turnId?: string,
  ): Promise<string | undefined> {
    const meta = await this.#d.conversations.access(userId, conversationId, undefined, {
      claim: true,
    });
    if (!meta) return undefined;
    return this.#d.conversations.cancel(conversationId, turnId);
  }

  /**
   * Subscribes, reads the log, and follows the running turn from where `from` says (given
   * the turn's retained frames); undefined when no turn runs.
   */
  async #follow(
    conversationId: string,
    from: (
      turnId: string,
      frames: readonly PublishedFrame[],
    ) => { after: number; continued: boolean },
  ): Promise<FollowedTurn | undefined> {
    const follower = new TurnFollower(this.#d.hub, conversationId);
    try {
      await follower.open();
      const { state, frames } = await this.#d.bus.replay(conversationId, 0);
      const turnId = state.runningTurnId;
      if (turnId === null) {
        follower.close();
        return undefined;
      }
      const own = frames.filter((p) => p.frame.turnId === turnId);
      const { after, continued } = from(turnId, own);
      follower.follow(turnId, { after, replayed: own.filter((p) => p.frame.seq > after) });
      const answered = new Set(
        own.flatMap((p) => (p.frame.type === 'approval-result' ? [p.frame.toolCallId] : [])),
      );
      return { conversationId, turnId, follower, answered, continued };
    } catch (error) {
      follower.close();
      throw error;
    }
  }
}
