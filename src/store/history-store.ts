import type { BaseMessage } from '@langchain/core/messages';
import type { StopReason, Usage } from '../protocol/frames.ts';

export interface ConversationMeta {
  readonly id: string;
  readonly owner: string;
  readonly model: string;
  readonly title: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The agent its first turn ran; later chats that name none get it. */
  readonly agent?: string;
}

export interface StoredMessage {
  readonly message: BaseMessage;
  readonly createdAt: string;
  readonly turnId: string;
  /** The stop reason of the message's turn, when it was not `end_turn`. */
  readonly stopReason?: StopReason;
  /** On the last assistant message of a turn: the turn's `turn-end.usage`, as sent. */
  readonly usage?: Usage;
}

/**
 * How a turn ended, kept with its messages: the stop reason (on its assistant messages when
 * it was not `end_turn`) and its usage (on its last assistant message), so that a reload
 * shows what `turn-end` showed.
 */
export interface TurnOutcome {
  readonly stopReason: StopReason;
  readonly usage?: Usage;
}

/**
 * A place in a user's conversation list, newest activity first: the activity time (ms since
 * the epoch) and the id, which orders conversations active in the same millisecond.
 */
export interface ListPosition {
  readonly at: number;
  readonly id: string;
}

/** One page of a user's conversations, and where the next page starts (null: none). */
export interface ConversationPage {
  readonly conversations: ConversationMeta[];
  readonly next: ListPosition | null;
}

/**
 * The list's order, shared by every store: newer activity first, then ids in descending
 * byte order (Redis's order of sorted-set members with one score). Negative when `a` comes
 * first.
 */
export function listOrder(a: ListPosition, b: ListPosition): number {
  if (a.at !== b.at) return b.at - a.at;
  return Buffer.compare(Buffer.from(b.id), Buffer.from(a.id));
}

/**
 * Conversation history: metadata and the list of LangChain messages. Every write
 * refreshes the conversation's time to live.
 */
export interface HistoryStore {
  /** Creates a conversation; false if the id exists already. */
  create(meta: ConversationMeta): Promise<boolean>;
  get(conversationId: string): Promise<ConversationMeta | undefined>;
  /** The last `limit` messages (all by default), oldest first. */
  messages(conversationId: string, limit?: number): Promise<StoredMessage[]>;
  /**
   * Appends a turn's messages in one atomic step, exactly once per `turnId`: a second
   * commit of the same turn changes nothing and returns false. `outcome` is kept with the
   * messages (see {@link TurnOutcome}). A first commit is activity at `at`: it moves the
   * conversation up its owner's list, as {@link touch} does.
   */
  commitTurn(
    conversationId: string,
    turnId: string,
    messages: readonly BaseMessage[],
    at: Date,
    outcome?: TurnOutcome,
  ): Promise<boolean>;
  /**
   * Records activity at `at` (a turn started): `updatedAt` becomes `at` unless it is later
   * already, and the conversation enters or moves up its owner's list. Nothing for a
   * conversation that does not exist.
   */
  touch(conversationId: string, at: Date): Promise<void>;
  /**
   * The owner's conversations that had activity (a turn started or ended), newest first in
   * {@link listOrder}, from just after `before`. Deleted and expired conversations are left
   * out.
   */
  list(owner: string, page: { limit: number; before?: ListPosition }): Promise<ConversationPage>;
  /**
   * Removes the conversation (false if there was none), from its owner's list too, and
   * remembers, for the store's time to live, that it was deleted: an id that could still be
   * used fresh stays gone.
   */
  delete(conversationId: string): Promise<boolean>;
  /** Whether the conversation was deleted within the time to live. */
  deleted(conversationId: string): Promise<boolean>;
  /**
   * A secret that lives and dies with the store's data, shared by every process that uses
   * the store: conversation ids signed with it are recognised until the data is lost.
   */
  idSecret(): Promise<Buffer>;
  close(): Promise<void>;
}
