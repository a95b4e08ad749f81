import { randomBytes } from 'node:crypto';
import type { BaseMessage } from '@langchain/core/messages';
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

interface Entry {
  meta: ConversationMeta;
  messages: string[];
  turns: Set<string>;
  expiresAt: number;
  /** In its owner's list: a turn started or ended in it. */
  listed: boolean;
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
  /** Per owner, the ids of their listed conversations (some may have expired since). */
  readonly #byOwner = new Map<string, Set<string>>();
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
      listed: false,
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
    outcome?: TurnOutcome,
  ): Promise<boolean> {
    const entry = this.#live(conversationId);
    if (!entry) throw new Error(`No conversation ${conversationId} to commit turn ${turnId} to.`);
    if (entry.turns.has(turnId)) return false;
    entry.turns.add(turnId);
    entry.messages.push(...encodeMessages(messages, turnId, at, outcome));
    this.#active(entry, at);
    return true;
  }

  async touch(conversationId: string, at: Date): Promise<void> {
    const entry = this.#live(conversationId);
    if (entry) this.#active(entry, at);
  }

  async list(
    owner: string,
    page: { limit: number; before?: ListPosition },
  ): Promise<ConversationPage> {
    const ids = this.#byOwner.get(owner) ?? new Set<string>();
    const listed: { position: ListPosition; meta: ConversationMeta }[] = [];
    for (const id of ids) {
      const entry = this.#live(id);
      if (!entry) continue;
      const position = { at: Date.parse(entry.meta.updatedAt), id };
      if (page.before && listOrder(position, page.before) <= 0) continue;
      listed.push({ position, meta: { ...entry.meta } });
    }
    listed.sort((a, b) => listOrder(a.position, b.position));
    const shown = listed.slice(0, page.limit);
    return {
      conversations: shown.map((l) => l.meta),
      next: listed.length > page.limit ? shown.at(-1)!.position : null,
    };
  }

  async delete(conversationId: string): Promise<boolean> {
    this.#deletedUntil.set(conversationId, this.#now() + this.#ttlMs);
    const entry = this.#entries.get(conversationId);
    if (entry) this.#unlist(entry);
    return this.#entries.delete(conversationId);
  }

  async deleted(conversationId: string): Promise<boolean> {
    return (this.#deletedUntil.get(conversationId) ?? 0) > this.#now();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#entries.clear();
    this.#byOwner.clear();
  }

  /** Activity at `at`: `updatedAt` never goes back, the time to live starts again. */
  #active(entry: Entry, at: Date) {
    const updatedAt = at.toISOString();
    if (updatedAt > entry.meta.updatedAt) entry.meta = { ...entry.meta, updatedAt };
    entry.expiresAt = this.#now() + this.#ttlMs;
    if (entry.listed) return;
    entry.listed = true;
    const ids = this.#byOwner.get(entry.meta.owner) ?? new Set<string>();
    ids.add(entry.meta.id);
    this.#byOwner.set(entry.meta.owner, ids);
  }

  #unlist(entry: Entry) {
    const ids = this.#byOwner.get(entry.meta.owner);
    ids?.delete(entry.meta.id);
    if (ids?.size === 0) this.#byOwner.delete(entry.meta.owner);
  }

  #live(conversationId: string): Entry | undefined {
    const entry = this.#entries.get(conversationId);
    if (entry && entry.expiresAt <= this.#now()) {
      this.#entries.delete(conversationId);
      this.#unlist(entry);
      return undefined;
    }
    return entry;
  }
}
