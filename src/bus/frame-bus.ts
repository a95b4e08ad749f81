import type { ErrorCode } from '../protocol/errors.ts';
import { type TurnEvent, type TurnFrame, ZERO_USAGE } from '../protocol/frames.ts';

/** A turn frame with its JSON text, serialised once for every socket that receives it. */
export interface PublishedFrame {
  readonly frame: TurnFrame;
  readonly json: string;
}

export interface ConversationFrames {
  /** Seq of the newest turn frame, 0 before the first. */
  readonly lastSeq: number;
  /** Seq of the oldest retained frame; lastSeq + 1 when none is retained. */
  readonly firstRetainedSeq: number;
  readonly runningTurnId: string | null;
}

export type TurnStartEvent = Extract<TurnEvent, { type: 'turn-start' }>;
export type FrameListener = (published: PublishedFrame) => void;

/**
 * What a subscriber hears when a bus cannot keep its promise of every frame once, in seq
 * order. Only a bus whose store can lose data (Redis) ever calls it.
 */
export interface DeliveryTrouble {
  /**
   * Frames were lost: the conversation's frame log went backwards (its store lost its data;
   * a turn that was open has been ended with `error` and `turn-end` first), or frames
   * missed on the way are no longer in the log. Delivery goes on after `lastSeq`.
   */
  reset(lastSeq: number): void;
  /**
   * The store has been unreachable too long while a turn was open: frames may be missing
   * and cannot be read. The subscriber's clients should resume with `afterSeq` later.
   */
  unreachable(): void;
}

/** How many turn frames of a conversation are kept for replay, unless they are too big. */
export const RETAINED_FRAMES = 1000;

/**
 * How many bytes of frame JSON (UTF-8) a conversation keeps for replay, at most. The count
 * alone does not bound memory: one `turn-end` carries the whole answer, one `tool-end` up
 * to 16 KiB. Past this the oldest frames go first, even among the last RETAINED_FRAMES, and
 * a frame bigger than this is not kept at all: replay from before it is a `replay_gap`,
 * which history covers. Ordinary turns (frames of a few hundred bytes) stay far below it.
 */
export const RETAINED_FRAME_BYTES = 4 * 1024 * 1024;

/**
 * Turn frames of every conversation: allocates `seq`, keeps the newest frames for replay
 * and delivers frames to the subscribers of every process. It also owns which turn a
 * conversation is running: `turn-start` claims the conversation and `turn-end` frees it,
 * each in the same atomic step as the frame, so no chat can slip between them.
 */
export interface FrameBus {
  /** Publishes `turn-start` if no turn is running; undefined when the conversation is busy. */
  startTurn(
    conversationId: string,
    turnId: string,
    event: TurnStartEvent,
  ): Promise<PublishedFrame | undefined>;
  /**
   * Publishes a frame of a running turn; `turn-end` ends the turn. Undefined when the turn
   * no longer holds the conversation (it ended, or was taken for lost and ended by
   * another process): the frame is dropped, never interleaved with another turn's.
   */
  publish(
    conversationId: string,
    turnId: string,
    event: TurnEvent,
  ): Promise<PublishedFrame | undefined>;
  /** Delivers frames published from now on; resolves once delivery is in place. */
  subscribe(
    conversationId: string,
    listener: FrameListener,
    trouble?: DeliveryTrouble,
  ): Promise<() => void>;
  /** The conversation's frame state and the retained frames with `seq > afterSeq`. */
  replay(
    conversationId: string,
    afterSeq?: number,
  ): Promise<{ state: ConversationFrames; frames: PublishedFrame[] }>;
  /** Forgets the conversation's frames and running turn. */
  delete(conversationId: string): Promise<void>;
  close(): Promise<void>;
}

/** Builds a frame from an event, with the JSON text sent to sockets. */
export function toPublished(
  conversationId: string,
  turnId: string,
  seq: number,
  event: TurnEvent,
): PublishedFrame {
  // Ids first, so a person reading frames in wscat sees what each belongs to.
  const { type, ...fields } = event;
  const frame = { type, conversationId, turnId, seq, ...fields } as TurnFrame;
  return { frame, json: JSON.stringify(frame) };
}

/** An error that ends a turn from outside, as its `error` frame carries it. */
export interface TurnFailure {
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * The last frames of a turn ended from outside its worker, where nothing tells how it ran:
 * one `error` unless the turn sent one already (`error` undefined), then `turn-end` with
 * stopReason `error`, no usage, and the text its tokens carried so far (docs/protocol.md,
 * invariants 2 and 5).
 */
export function failureEvents(
  error: TurnFailure | undefined,
  end: { text: string; model: string; durationMs: number },
): TurnEvent[] {
  const turnEnd: TurnEvent = {
    type: 'turn-end',
    stopReason: 'error',
    usage: { ...ZERO_USAGE },
    ...end,
  };
  return error ? [errorEvent(error), turnEnd] : [turnEnd];
}

/**
 * The `error` frame of a failure. Built field by field: a failure is often a ProtocolError,
 * whose `message` (an Error's own, not enumerable) a spread would drop, and whose `name`
 * and `cause` it would add.
 */
export function errorEvent(failure: TurnFailure): TurnEvent {
  return {
    type: 'error',
    code: failure.code,
    message: failure.message,
    retryable: failure.retryable,
  };
}
