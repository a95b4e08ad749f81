import { randomBytes } from 'node:crypto';
import type { BaseMessage } from '@langchain/core/messages';
import type { StopReason } from '../protocol/frames.ts';
import type { ConversationMeta, HistoryStore, StoredMessage } from './history-store.ts';
import { decodeMessages, encodeMessages } from './message-codec.ts';

interface Entry {
  meta: ConversationMeta;
  messages: string[];
  turns: Set<string>;
  expiresAt: number;
}

/**
 * The embedded store. Messages are kept serialised, as in Redis, so both stores hand out
 * fresh message objects and behave alike. Expired conversations vanish on access.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  /** Deleted conversations, until their time to live would have ended. */
  readonly #deletedUntil = new Map<string, number>();
  /** The data lives in this process: so does the secret. */
  readonly #secret = randomBytes(32);

  constructor(options: { ttlSeconds: number; now?: () => number }) {
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(this.#ttlMs, 60_000)).unref();
  }

  async idSecret(): Promise<Buffer> {
    return this.#secret;
  }

  /** Drops expired conversations that nobody asked for again; runs by itself every minute. */
  sweep(): void {
    for (const id of this.#entries.keys()) this.#live(id);
    for (const [id, until] of this.#deletedUntil) {
      if (until <= this.#now()) this.#deletedUntil.delete(id);
    }
  }

  async create(meta: ConversationMeta): Promise<boolean> {
    if (this.#live(meta.id)) return false;
    this.#entries.set(meta.id, {
      meta: { ...meta },
      messages: [],
      turns: new Set(),
      expiresAt: this.#now() + this.#ttlMs,
    });
    return true;
  }

  async get(conversationId: string): Promise<ConversationMeta | undefined> {
    const entry = this.#live(conversationId);
    return entry ? { ...entry.meta } : undefined;
  }

  async messages(conversationId: string, limit?: number): Promise<StoredMessage[]> {
    const all = this.#live(conversationId)?.messages ?? [];
    return decodeMessages(limit === undefined ? all : all.slice(-limit));
  }

  async commitTurn(
    conversationId: string,
    turnId: string,
    messages: readonly BaseMessage[],
    at: Date,
    stopReason?: StopReason,
  ): Promise<boolean> {
    const entry = this.#live(conversationId);
    if (!entry) throw new Error(`No conversation ${conversationId} to commit turn ${turnId} to.`);
    if (entry.turns.has(turnId)) return false;
    entry.turns.add(turnId);
    entry.messages.push(...encodeMessages(messages, turnId, at, stopReason));
    entry.meta = { ...entry.meta, updatedAt: at.toISOString() };
    entry.expiresAt = this.#now() + this.#ttlMs;
    return true;
  }

  async delete(conversationId: string): Promise<boolean> {
    this.#deletedUntil.set(conversationId, this.#now() + this.#ttlMs);
    return this.#entries.delete(conversationId);
  }

  async deleted(conversationId: string): Promise<boolean> {
    return (this.#deletedUntil.get(conversationId) ?? 0) > this.#now();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#entries.clear();
  }

  #live(conversationId: string): Entry | undefined {
    const entry = this.#entries.get(conversationId);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(conversationId);
      return undefined;
    }
    return entry;
  }
}
