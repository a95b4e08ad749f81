import type { AgentgateError } from './errors.ts';
import { type Deferred, deferred, Feed } from './feed.ts';
import type { HistoryMessage, SubscribedFrame, TurnFrame } from './frames.ts';

/**
 * Frames of a conversation were lost to this client (the gateway no longer retained them
 * when it resumed): its history has been reloaded, and frames go on after `lastSeq`. A UI
 * redraws the conversation from `messages`.
 */
export interface Resync {
  type: 'resync';
  conversationId: string;
  messages: HistoryMessage[];
  /** Frames that follow have a greater seq (unknown when the gateway did not say). */
  lastSeq: number | undefined;
}

/** What a watch delivers: the conversation's turn frames, and a resync after a gap. */
export type WatchItem = TurnFrame | Resync;

export interface SubscribeOptions {
  /** Replay every retained frame after this seq first (no gap, no duplicate); default: live frames only. */
  afterSeq?: number;
  /**
   * Receive items here instead of iterating: the watch then keeps nothing for a reader.
   * Without it, items wait in the watch until a `for await` loop reads them.
   */
  onItem?: (item: WatchItem) => void;
}

/**
 * A conversation watched: every turn frame of it, from any tab or process, in seq order
 * with no gap and no duplicate across reconnects. Iterate it (one loop), or pass `onItem`.
 * It ends when `unsubscribe()` is called or the client closes, and fails when the
 * conversation cannot be watched (`forbidden`, `not_found`).
 */
export interface Watch extends AsyncIterable<WatchItem> {
  readonly conversationId: string;
  /** The gateway's first `subscribed` answer (`lastSeq`, `runningTurnId`, `pendingApprovals`). */
  readonly subscribed: Promise<SubscribedFrame>;
  unsubscribe(): void;
}

/** The client's side of a {@link Watch}. */
export class WatchImpl implements Watch {
  readonly conversationId: string;
  /** The seq asked for; the watch starts at `subscribed` (at min(afterSeq, lastSeq)). */
  readonly afterSeq: number | undefined;
  readonly #subscribed: Deferred<SubscribedFrame> = deferred();
  readonly #feed: Feed<WatchItem> | undefined;
  readonly #onItem: ((item: WatchItem) => void) | undefined;
  readonly #unsubscribe: (watch: WatchImpl) => void;
  /** A subscribe for it is on its way on the current socket. */
  requested = false;
  /** False until the answer to its subscribe came: frames before it are not its own. */
  started = false;
  /** The newest seq delivered; `undefined` after a gap whose end the gateway did not say. */
  cursor: number | undefined;

  constructor(
    conversationId: string,
    options: SubscribeOptions,
    unsubscribe: (watch: WatchImpl) => void,
  ) {
    this.conversationId = conversationId;
    this.afterSeq = options.afterSeq;
    this.#onItem = options.onItem;
    this.#feed = options.onItem ? undefined : new Feed('queue');
    this.#unsubscribe = unsubscribe;
  }

  get subscribed(): Promise<SubscribedFrame> {
    return this.#subscribed.promise;
  }

  get ended(): boolean {
    return this.#feed ? this.#feed.done : this.#ended;
  }
  #ended = false;

  /** The gateway answered this watch's subscribe. */
  start(frame: SubscribedFrame): void {
    if (this.started) return;
    this.started = true;
    this.cursor =
      this.afterSeq === undefined ? frame.lastSeq : Math.min(this.afterSeq, frame.lastSeq);
    this.#subscribed.resolve(frame);
  }

  /** Delivers a turn frame unless it is not yet this watch's or a duplicate. */
  accept(frame: TurnFrame): void {
    if (!this.started || this.ended) return;
    if (this.cursor !== undefined && frame.seq <= this.cursor) return;
    this.cursor = frame.seq;
    this.#deliver(frame);
  }

  /** After a gap: frames go on after `resync.lastSeq`. */
  resync(resync: Resync): void {
    if (this.ended) return;
    this.started = true;
    this.cursor = resync.lastSeq;
    this.#deliver(resync);
  }

  #deliver(item: WatchItem): void {
    if (this.#feed) this.#feed.push(item);
    else this.#onItem?.(item);
  }

  end(): void {
    this.#ended = true;
    this.#feed?.end();
  }

  fail(error: AgentgateError): void {
    this.#subscribed.reject(error);
    this.#ended = true;
    this.#feed?.fail(error);
  }

  unsubscribe(): void {
    if (this.ended) return;
    this.end();
    this.#unsubscribe(this);
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchItem> {
    if (!this.#feed) throw new TypeError('This watch delivers to onItem; it cannot be iterated.');
    return this.#feed[Symbol.asyncIterator]();
  }
}
