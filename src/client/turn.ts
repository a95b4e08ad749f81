import { AgentgateError } from './errors.ts';
import { type Deferred, deferred, Feed } from './feed.ts';
import type { TurnEndFrame, TurnFrame } from './frames.ts';

/** What `chat()` may say besides the content. */
export interface ChatOptions {
  /** One of yours; default: the conversation of the client's first `ready`. */
  conversationId?: string;
  /** One of `ready.models[].id`. */
  model?: string;
  /** One of `ready.agents[].id`. */
  agent?: string;
  /** Aborting cancels the turn (it ends with `stopReason: "cancelled"`); before it is sent, the chat is dropped. */
  signal?: AbortSignal;
}

/**
 * One chat and the turn it starts. Iterate it for the turn's frames, `turn-start` through
 * `turn-end` (each reader sees them all, from the first), or await `end`. A refused chat
 * (`turn_in_progress`, `rate_limited`, `unknown_model`…) rejects `end` and `turnId` and
 * throws from the iterator, with an {@link AgentgateError}. A failed turn is not a refused
 * chat: its `error` frame is one of the frames, and `end` resolves with a `turn-end`
 * whose `stopReason` is `error`.
 */
export interface Turn extends AsyncIterable<TurnFrame> {
  readonly conversationId: string;
  /** The `requestId` the chat was sent with (the gateway echoes it on `turn-start`). */
  readonly requestId: string;
  /** Resolves at `turn-start`. */
  readonly turnId: Promise<string>;
  /** Resolves with the `turn-end`. */
  readonly end: Promise<TurnEndFrame>;
  /** The answer's text so far: every `token` received, joined. */
  readonly text: string;
  /** Stops the turn (a `cancel` for its conversation once it runs). */
  cancel(): Promise<void>;
}

/** The client's side of a {@link Turn}: it feeds the frames in and settles the promises. */
export class TurnImpl implements Turn {
  /** Empty until sent when the chat named none before the first `ready`. */
  conversationId: string;
  readonly requestId: string;
  readonly content: string;
  readonly options: ChatOptions;
  readonly #turnId: Deferred<string> = deferred();
  readonly #end: Deferred<TurnEndFrame> = deferred();
  readonly #feed = new Feed<TurnFrame>('replay');
  #text = '';
  /** The newest seq of this turn taken in; older or equal ones are duplicates. */
  cursor = 0;
  /** The turn's id once `turn-start` came. */
  id: string | undefined;
  /** The chat frame went out on some socket (it may have been lost with it). */
  sent = false;
  /** Where the conversation stood when the chat went out: its turn-start comes after. */
  sentAfterSeq: number | undefined;
  /** A cancel was asked before the turn had started. */
  cancelWanted = false;
  readonly #cancel: (turn: TurnImpl) => Promise<void>;
  /** Called once when the turn ends or fails: what it holds on others is let go. */
  #onDone: (() => void) | undefined;

  constructor(
    conversationId: string,
    requestId: string,
    content: string,
    options: ChatOptions,
    cancel: (turn: TurnImpl) => Promise<void>,
  ) {
    this.conversationId = conversationId;
    this.requestId = requestId;
    this.content = content;
    this.options = options;
    this.#cancel = cancel;
  }

  get turnId(): Promise<string> {
    return this.#turnId.promise;
  }

  get end(): Promise<TurnEndFrame> {
    return this.#end.promise;
  }

  get text(): string {
    return this.#text;
  }

  get done(): boolean {
    return this.#feed.done;
  }

  cancel(): Promise<void> {
    return this.#cancel(this);
  }

  /** Runs `release` once the turn has ended or failed (at once if it has). */
  whenDone(release: () => void): void {
    if (this.#feed.done) release();
    else this.#onDone = release;
  }

  #settled(): void {
    const release = this.#onDone;
    this.#onDone = undefined;
    release?.();
  }

  /** Takes in a frame of this turn; false when it is a duplicate. */
  accept(frame: TurnFrame): boolean {
    if (this.#feed.done || frame.seq <= this.cursor) return false;
    this.cursor = frame.seq;
    if (frame.type === 'turn-start') {
      this.id = frame.turnId;
      this.#turnId.resolve(frame.turnId);
    }
    if (frame.type === 'token') this.#text += frame.text;
    this.#feed.push(frame);
    if (frame.type === 'turn-end') {
      this.#end.resolve(frame);
      this.#feed.end();
      this.#settled();
    }
    return true;
  }

  /** The chat was refused, or the turn's frames can no longer be delivered. */
  fail(error: AgentgateError): void {
    if (this.#feed.done) return;
    this.#turnId.reject(error);
    this.#end.reject(error);
    this.#feed.fail(error);
    this.#settled();
  }

  [Symbol.asyncIterator](): AsyncIterator<TurnFrame> {
    return this.#feed[Symbol.asyncIterator]();
  }
}

/** The error that ends a chat whose signal fired before it was sent. */
export function abortedError(requestId: string): AgentgateError {
  return new AgentgateError('aborted', 'The chat was aborted before it was sent.', { requestId });
}
