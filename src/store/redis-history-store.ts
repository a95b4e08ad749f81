import { randomBytes } from 'node:crypto';
import type { BaseMessage } from '@langchain/core/messages';
import type { Redis } from 'ioredis';
import type { StopReason } from '../protocol/frames.ts';
import { execOrThrow, redisCall } from '../redis/errors.ts';
import { checkPrefix, conversationKeys, DEFAULT_KEY_PREFIX } from '../redis/keys.ts';
import { COMMIT_TURN, CREATE_CONVERSATION } from '../redis/scripts.ts';
import type { ConversationMeta, HistoryStore, StoredMessage } from './history-store.ts';
import { decodeMessages, encodeMessages } from './message-codec.ts';

export interface RedisHistoryStoreOptions {
  /** The shared command connection; the store does not close it. */
  readonly redis: Redis;
  /** Conversation lifetime after its last write. */
  readonly ttlSeconds: number;
  readonly prefix?: string;
}

/**
 * History in Redis: per conversation a metadata hash, a list of encoded messages and the
 * set of committed turn ids, all under one hash tag and one TTL, refreshed by every write.
 * A commit is one script, so history is never half-written and never written twice.
 * Redis failures surface as `unavailable`.
 */
export class RedisHistoryStore implements HistoryStore {
  readonly #redis: Redis;
  readonly #ttl: number;
  readonly #prefix: string;

  constructor(options: RedisHistoryStoreOptions) {
    this.#redis = options.redis;
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
    stopReason?: StopReason,
  ): Promise<boolean> {
    const k = this.#keys(conversationId);
    const entries = encodeMessages(messages, turnId, at, stopReason);
    const result = await redisCall('commit turn', () =>
      COMMIT_TURN.run(
        this.#redis,
        [k.meta, k.messages, k.turns],
        [this.#ttl, turnId, at.toISOString(), ...entries],
      ),
    );
    if (result === -1) {
      throw new Error(`No conversation ${conversationId} to commit turn ${turnId} to.`);
    }
    return result === 1;
  }

  async delete(conversationId: string): Promise<boolean> {
    const k = this.#keys(conversationId);
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
    return existed === 1;
  }

  async deleted(conversationId: string): Promise<boolean> {
    const k = this.#keys(conversationId);
    return (await redisCall('read conversation', () => this.#redis.exists(k.deleted))) === 1;
  }

  /** The connection belongs to whoever created it; nothing to release here. */
  async close(): Promise<void> {}

  #keys(conversationId: string) {
    return conversationKeys(this.#prefix, conversationId);
  }
}
