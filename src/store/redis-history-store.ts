import { randomBytes } from 'node:crypto';
import type { BaseMessage } from '@langchain/core/messages';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { execOrThrow, redisCall } from '../redis/errors.ts';
import { checkPrefix, conversationKeys, DEFAULT_KEY_PREFIX, userKeys } from '../redis/keys.ts';
import { COMMIT_TURN, CREATE_CONVERSATION, TOUCH_CONVERSATION } from '../redis/scripts.ts';
import {
  type ConversationMeta,
  type ConversationPage,
  type HistoryStore,
  type ListPosition,
  listOrder,
  type StoredMessage,
  type TurnOutcome,
} from './history-store.ts';
import { decodeMessages, encodeMessages } from './message-codec.ts';

/**
 * How much longer than the time to live a list entry is kept without activity before a
 * write drops it unread: scores come from the clocks of many hosts, and dropping the entry
 * of a conversation that still lives would hide it until its next turn.
 */
const LIST_TRIM_MARGIN_MS = 3600_000;

/** A script's answer about activity: {1, owner, updatedAt}, {0} or {-1}. */
type ActivityReply = [1, string, string] | [0] | [-1];

export interface RedisHistoryStoreOptions {
  /** The shared command connection; the store does not close it. */
  readonly redis: Redis;
  /** Conversation lifetime after its last write. */
  readonly ttlSeconds: number;
  readonly prefix?: string;
  /** Where a failed update of a user's conversation list is reported (it is not thrown). */
  readonly log?: Logger;
}

/**
 * History in Redis: per conversation a metadata hash, a list of encoded messages and the
 * set of committed turn ids, all under one hash tag and one TTL, refreshed by every write.
 * A commit is one script, so history is never half-written and never written twice.
 * Redis failures surface as `unavailable`.
 *
 * Each user's list of conversations is a sorted set of its own (see {@link userKeys}). Under
 * Redis Cluster it lives in another slot than the conversations, so no script may write
 * both: the conversation is written first (its script answers the owner and the new
 * `updatedAt`), then the list in a command of its own, with ZADD GT so that updates arriving
 * out of order never move a conversation back. The conversation stays the truth: a reader
 * drops (and removes) entries whose conversation was deleted or expired, and a list update
 * lost between the two commands only leaves an older position until the next activity.
 */
export class RedisHistoryStore implements HistoryStore {
  readonly #redis: Redis;
  readonly #ttl: number;
  readonly #prefix: string;
  readonly #log: Logger | undefined;

  constructor(options: RedisHistoryStoreOptions) {
    this.#redis = options.redis;
    this.#log = options.log;
    this.#ttl = Math.max(1, Math.round(options.ttlSeconds));
    this.#prefix = checkPrefix(options.prefix ?? DEFAULT_KEY_PREFIX);
  }

  async create(meta: ConversationMeta): Promise<boolean> {
    const k = this.#keys(meta.id);
    const created = await redisCall('create conversation', () =>
      CREATE_CONVERSATION.run(
        this.#redis,
        [k.meta, k.messages, k.turns],
        [
          this.#ttl,
          meta.id,
          meta.owner,
          meta.model,
          meta.title,
          meta.createdAt,
          meta.updatedAt,
          meta.agent ?? '',
        ],
      ),
    );
    return created === 1;
  }

  /** Made once by whichever process asks first (SET NX); a Redis that lost its data makes a new one. */
  async idSecret(): Promise<Buffer> {
    const key = `${this.#prefix}id-secret`;
    const secret = await redisCall('read the id secret', async () => {
      const existing = await this.#redis.get(key);
      if (existing) return existing;
      await this.#redis.set(key, randomBytes(32).toString('hex'), 'NX');
      return this.#redis.get(key);
    });
    if (!secret) throw new Error('The id secret vanished as it was made.');
    return Buffer.from(secret, 'hex');
  }

  async get(conversationId: string): Promise<ConversationMeta | undefined> {
    const hash = await redisCall('read conversation', () =>
      this.#redis.hgetall(this.#keys(conversationId).meta),
    );
    if (hash.owner === undefined) return undefined;
    return {
      id: hash.id ?? conversationId,
      owner: hash.owner,
      model: hash.model ?? '',
      title: hash.title ?? '',
      createdAt: hash.createdAt ?? '',
      updatedAt: hash.updatedAt ?? '',
      ...(hash.agent ? { agent: hash.agent } : {}),
    };
  }

  async messages(conversationId: string, limit?: number): Promise<StoredMessage[]> {
    const key = this.#keys(conversationId).messages;
    const encoded = await redisCall('read history', () =>
      this.#redis.lrange(key, limit === undefined ? 0 : -limit, -1),
    );
    return decodeMessages(encoded);
  }

  async commitTurn(
    conversationId: string,
    turnId: string,
    messages: readonly BaseMessage[],
    at: Date,
    outcome?: TurnOutcome,
  ): Promise<boolean> {
    const k = this.#keys(conversationId);
    const entries = encodeMessages(messages, turnId, at, outcome);
    const reply = (await redisCall('commit turn', () =>
      COMMIT_TURN.run(
        this.#redis,
        [k.meta, k.messages, k.turns],
        [this.#ttl, turnId, at.toISOString(), ...entries],
      ),
    )) as ActivityReply;
    if (reply[0] === -1) {
      throw new Error(`No conversation ${conversationId} to commit turn ${turnId} to.`);
    }
    if (reply[0] === 0) return false;
    await this.#listActivity(conversationId, reply[1], reply[2]);
    return true;
  }

  async touch(conversationId: string, at: Date): Promise<void> {
    const k = this.#keys(conversationId);
    const reply = (await redisCall('record activity', () =>
      TOUCH_CONVERSATION.run(
        this.#redis,
        [k.meta, k.messages, k.turns],
        [this.#ttl, '', at.toISOString()],
      ),
    )) as ActivityReply;
    if (reply[0] === 1) await this.#listActivity(conversationId, reply[1], reply[2]);
  }

  /**
   * Reads the list from just after `before`, newest first, in batches; each entry is checked
   * against its conversation (it must exist and be the owner's), and entries that fail are
   * removed. One batch suffices unless entries were dropped.
   */
  async list(
    owner: string,
    page: { limit: number; before?: ListPosition },
  ): Promise<ConversationPage> {
    const key = userKeys(this.#prefix, owner).conversations;
    const found: { position: ListPosition; meta: ConversationMeta }[] = [];
    const gone: string[] = [];
    let after = page.before;
    // Entries at `after`'s score that come before it or are it: read again, then skipped.
    let skipped = 0;
    while (found.length <= page.limit) {
      const count = skipped + page.limit + 1 - found.length;
      const raw = await redisCall('read the conversation list', () =>
        this.#redis.zrevrangebyscore(
          key,
          after ? after.at : '+inf',
          '-inf',
          'WITHSCORES',
          'LIMIT',
          0,
          count,
        ),
      );
      const entries: ListPosition[] = [];
      for (let i = 0; i < raw.length; i += 2) entries.push({ id: raw[i]!, at: Number(raw[i + 1]) });
      const fresh = entries.filter((e) => !after || listOrder(e, after) > 0);
      const metas = await Promise.all(fresh.map((e) => this.get(e.id)));
      fresh.forEach((position, i) => {
        const meta = metas[i];
        if (meta?.owner === owner) found.push({ position, meta });
        else gone.push(position.id);
      });
      if (entries.length < count) break;
      const last = entries.at(-1)!;
      if (!after || listOrder(last, after) > 0) after = last;
      const bound = after;
      skipped = entries.filter((e) => e.at === bound.at && listOrder(e, bound) <= 0).length;
    }
    if (gone.length > 0) {
      await redisCall('clean the conversation list', () => this.#redis.zrem(key, ...gone));
    }
    const shown = found.slice(0, page.limit);
    return {
      conversations: shown.map((f) => f.meta),
      next: found.length > page.limit ? shown.at(-1)!.position : null,
    };
  }

  async delete(conversationId: string): Promise<boolean> {
    const k = this.#keys(conversationId);
    const owner = await redisCall('read conversation', () => this.#redis.hget(k.meta, 'owner'));
    const [existed] = await redisCall('delete conversation', () =>
      execOrThrow(
        this.#redis
          .multi()
          .exists(k.meta)
          .del(k.meta, k.messages, k.turns)
          .set(k.deleted, '1', 'EX', this.#ttl)
          .exec(),
      ),
    );
    // After the conversation, in its own command (another slot); a reader drops it anyway.
    if (owner !== null) {
      const key = userKeys(this.#prefix, owner).conversations;
      await redisCall('update the conversation list', () => this.#redis.zrem(key, conversationId));
    }
    return existed === 1;
  }

  async deleted(conversationId: string): Promise<boolean> {
    const k = this.#keys(conversationId);
    return (await redisCall('read conversation', () => this.#redis.exists(k.deleted))) === 1;
  }

  /** The connection belongs to whoever created it; nothing to release here. */
  async close(): Promise<void> {}

  /**
   * Puts the conversation at `updatedAt` in its owner's list (never back), refreshes the
   * list's time to live and drops entries long past it. A failure is logged, not thrown:
   * the conversation's own write succeeded, and the list catches up with its next activity.
   */
  async #listActivity(conversationId: string, owner: string, updatedAt: string) {
    const key = userKeys(this.#prefix, owner).conversations;
    const stale = Date.now() - this.#ttl * 1000 - LIST_TRIM_MARGIN_MS;
    try {
      await execOrThrow(
        this.#redis
          .multi()
          .zadd(key, 'GT', Date.parse(updatedAt), conversationId)
          .zremrangebyscore(key, '-inf', `(${stale}`)
          .expire(key, this.#ttl)
          .exec(),
      );
    } catch (error) {
      this.#log?.warn({ err: error, conversationId }, 'could not update the conversation list');
    }
  }

  #keys(conversationId: string) {
    return conversationKeys(this.#prefix, conversationId);
  }
}
