import type { PublishedFrame } from '../bus/frame-bus.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { TurnFrame } from '../protocol/frames.ts';
import type { FrameSink, SubscriptionHub } from './hub.ts';

/**
 * One turn of a conversation, followed through the hub for a stream that has no socket (the
 * HTTP adapters): the frames of that turn, in seq order, with no gap and no duplicate, from
 * a point the caller chooses (replayed frames first, then live ones) through its `turn-end`.
 *
 * The subscription comes first ({@link open}) and holds what arrives until the caller says
 * which turn it follows ({@link follow}): a chat subscribes before its `turn-start` is
 * published, a resume before it reads the frame log. Frames lost on the way (the bus resets)
 * or a bus that stays unreachable end the iteration with the error a socket would get.
 */
export class TurnFollower implements FrameSink {
  readonly conversationId: string;
  readonly #hub: SubscriptionHub;
  /** Frames not yet taken by the iterator; everything delivered until `follow`. */
  #pending: PublishedFrame[] = [];
  #turnId: string | undefined;
  /** The newest seq handed on (or skipped as already seen). */
  #lastSeq = 0;
  #trouble: ProtocolError | undefined;
  #wake: (() => void) | undefined;
  #closed = false;
  #subscribed = false;

  constructor(hub: SubscriptionHub, conversationId: string) {
    this.#hub = hub;
    this.conversationId = conversationId;
  }

  /** Subscribes; resolves once frames published from now on are held for this follower. */
  async open(): Promise<void> {
    if (this.#subscribed || this.#closed) return;
    this.#subscribed = true;
    try {
      await this.#hub.add(this.conversationId, this);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /**
   * Follows `turnId` from after seq `after`: `replayed` (frames read from the log, oldest
   * first) come first, then what the subscription holds and delivers with a greater seq.
   */
  follow(turnId: string, from: { after: number; replayed?: readonly PublishedFrame[] }): void {
    this.#turnId = turnId;
    this.#lastSeq = from.after;
    const held = this.#pending;
    this.#pending = [...(from.replayed ?? []), ...held].filter((p) => p.frame.turnId === turnId);
    this.#wake?.();
  }

  /** {@link FrameSink}: frames of the conversation as the bus delivers them. */
  deliver(published: PublishedFrame): void {
    if (this.#closed) return;
    if (this.#turnId !== undefined && published.frame.turnId !== this.#turnId) return;
    this.#pending.push(published);
    this.#wake?.();
  }

  /** {@link FrameSink}: frames were lost; the turn cannot be told whole any more. */
  reset(lastSeq: number): void {
    this.fail(
      new ProtocolError(
        'replay_gap',
        `Frames of conversation ${this.conversationId} were lost (dropped on the way, or its store lost its data); load its history (it ends at seq ${lastSeq}).`,
      ),
    );
  }

  /** {@link FrameSink}: the bus has been unreachable too long while the turn ran. */
  unreachable(): void {
    this.fail(
      new ProtocolError(
        'unavailable',
        'The state store has been unreachable during the turn; resume it once the gateway is ready again.',
      ),
    );
  }

  /**
   * The turn's frames, in seq order, through its `turn-end`. Throws the ProtocolError that
   * ended following early; stops quietly when {@link close} is called. Call `follow` first.
   */
  async *frames(): AsyncGenerator<TurnFrame, void, undefined> {
    for (;;) {
      const next = this.#pending.shift();
      if (next) {
        const { frame } = next;
        if (frame.seq <= this.#lastSeq) continue;
        this.#lastSeq = frame.seq;
        yield frame;
        if (frame.type === 'turn-end') return;
        continue;
      }
      if (this.#trouble) throw this.#trouble;
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  /** Unsubscribes and ends the iteration. Never cancels the turn. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#subscribed) this.#hub.remove(this.conversationId, this);
    this.#pending = [];
    this.#wake?.();
  }

  /** Ends the iteration with `error` once what it holds is taken (the gateway shuts down). */
  fail(error: ProtocolError): void {
    if (this.#closed || this.#trouble) return;
    this.#trouble = error;
    this.#wake?.();
  }
}
