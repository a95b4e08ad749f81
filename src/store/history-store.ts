import type { BaseMessage } from '@langchain/core/messages';
import type { StopReason } from '../protocol/frames.ts';

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
   * commit of the same turn changes nothing and returns false. `stopReason` is kept with
   * the messages when it is not `end_turn`.
   */
  commitTurn(
    conversationId: string,
    turnId: string,
    messages: readonly BaseMessage[],
    at: Date,
    stopReason?: StopReason,
  ): Promise<boolean>;
  /**
   * Removes the conversation (false if there was none) and remembers, for the store's time
   * to live, that it was deleted: an id that could still be used fresh stays gone.
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
