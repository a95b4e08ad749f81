import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { textOf } from '../agent/content.ts';
import { assertNever } from '../assert-never.ts';
import type { FrameBus } from '../bus/frame-bus.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { HistoryMessage } from '../protocol/frames.ts';
import type { JobQueue } from '../queue/job-queue.ts';
import type {
  ConversationMeta,
  HistoryStore,
  ListPosition,
  StoredMessage,
} from '../store/history-store.ts';
import { ConversationIds, type IdOwner } from './conversation-ids.ts';

/** A conversation as `GET /v1/conversations` lists it (docs/protocol.md, HTTP routes). */
export interface ConversationSummary {
  readonly id: string;
  readonly title: string;
  readonly model: string;
  /** Null for conversations stored before agents were recorded. */
  readonly agent: string | null;
  readonly createdAt: string;
  /** The last activity: a turn's start or end. */
  readonly updatedAt: string;
  /** The turn running now, on whichever process runs it. */
  readonly runningTurnId: string | null;
}

/**
 * Access to conversations for gateways (WebSocket and REST alike): who may see what,
 * history in the protocol's shape, deletion.
 */
export class Conversations {
  readonly #store: HistoryStore;
  readonly #bus: FrameBus;
  readonly #queue: JobQueue;
  readonly ids: ConversationIds;

  /** `lifetimeMs`: how long an issued id with no turn yet stays usable (the session TTL). */
  constructor(deps: { store: HistoryStore; bus: FrameBus; queue: JobQueue; lifetimeMs: number }) {
    this.#store = deps.store;
    this.#bus = deps.bus;
    this.#queue = deps.queue;
    this.ids = new ConversationIds(() => deps.store.idSecret(), deps.lifetimeMs);
  }

  /**
   * The conversation's metadata if `userId` owns it; undefined for a conversation that has
   * no turn yet but was issued to `userId` (in a `ready`, on any gateway) or is `fresh`
   * (the caller's own, not used yet), or, with `claim`, that nobody has used (an id the
   * caller named to create it; not one issued to another user, nor a deleted one). Throws
   * not_found or forbidden.
   */
  async access(
    userId: string,
    conversationId: string,
    fresh?: string,
    options: { claim?: boolean } = {},
  ): Promise<ConversationMeta | undefined> {
    const meta = await this.#store.get(conversationId);
    const owner: IdOwner = meta
      ? meta.owner === userId
        ? 'caller'
        : 'another user'
      : await this.#ownerOfUnstored(conversationId, userId, fresh, options.claim ?? false);
    switch (owner) {
      case 'caller':
        return meta;
      case 'another user':
        throw new ProtocolError(
          'forbidden',
          `Conversation ${conversationId} belongs to another user.`,
        );
      case 'unknown':
        throw new ProtocolError(
          'not_found',
          `No conversation ${conversationId} (it never existed, was deleted, expired, or its data was lost).`,
        );
      default:
        return assertNever(owner);
    }
  }

  /** Whose a conversation with nothing stored is: a deleted one is nobody's. */
  async #ownerOfUnstored(
    conversationId: string,
    userId: string,
    fresh: string | undefined,
    claim: boolean,
  ): Promise<IdOwner> {
    if (await this.#store.deleted(conversationId)) return 'unknown';
    if (conversationId === fresh) return 'caller';
    const owner = await this.ids.ownerOf(conversationId, userId);
    return owner === 'unknown' && claim ? 'caller' : owner;
  }

  async history(conversationId: string, limit?: number): Promise<HistoryMessage[]> {
    return (await this.#store.messages(conversationId, limit)).map(toHistoryMessage);
  }

  /**
   * One page of the user's conversations that had a turn, newest activity first, after
   * `before`; `next` is where the following page starts (null on the last page). Only the
   * user's own are listed: the store keeps one list per owner.
   */
  async list(
    userId: string,
    page: { limit: number; before?: ListPosition },
  ): Promise<{ conversations: ConversationSummary[]; next: ListPosition | null }> {
    const { conversations, next } = await this.#store.list(userId, page);
    const running = await Promise.all(
      conversations.map(async (c) => (await this.#bus.replay(c.id)).state.runningTurnId),
    );
    return {
      conversations: conversations.map((c, i) => ({
        id: c.id,
        title: c.title,
        model: c.model,
        agent: c.agent ?? null,
        createdAt: c.createdAt,
        updatedAt: c.updatedAt,
        runningTurnId: running[i] ?? null,
      })),
      next,
    };
  }

  /**
   * Stops the conversation's running turn, wherever it runs (only if it is `turnId`, when
   * given), and says which turn was asked to stop; nothing, and undefined, when none runs.
   * The one way a turn is cancelled: the WebSocket `cancel` frame and the HTTP route alike.
   */
  async cancel(conversationId: string, turnId?: string): Promise<string | undefined> {
    const { state } = await this.#bus.replay(conversationId);
    const running = state.runningTurnId;
    if (!running || (turnId !== undefined && turnId !== running)) return undefined;
    await this.#queue.cancel(conversationId, running);
    return running;
  }

  /**
   * Forgets history and frames. Refused while a turn runs (`turn_in_progress`): its
   * watchers would never see it end. Cancel it first.
   */
  async delete(conversationId: string): Promise<boolean> {
    const { state } = await this.#bus.replay(conversationId);
    if (state.runningTurnId) {
      throw new ProtocolError(
        'turn_in_progress',
        `Conversation ${conversationId} is running a turn; cancel it, then delete.`,
      );
    }
    const existed = await this.#store.delete(conversationId);
    await this.#bus.delete(conversationId);
    return existed;
  }
}

export function toHistoryMessage({
  message,
  createdAt,
  turnId,
  stopReason,
  usage,
}: StoredMessage): HistoryMessage {
  if (ToolMessage.isInstance(message)) {
    return {
      role: 'tool',
      content: textOf(message.content),
      toolCallId: message.tool_call_id,
      ...(message.name ? { name: message.name } : {}),
      createdAt,
      turnId,
    };
  }
  if (AIMessage.isInstance(message)) {
    const calls = message.tool_calls ?? [];
    return {
      role: 'assistant',
      content: textOf(message.content),
      ...(calls.length > 0
        ? { toolCalls: calls.map((c) => ({ id: c.id ?? '', name: c.name, input: c.args })) }
        : {}),
      createdAt,
      turnId,
      ...(stopReason ? { stopReason } : {}),
      ...(usage ? { usage } : {}),
    };
  }
  return { role: 'user', content: textOf(message.content), createdAt, turnId };
}
