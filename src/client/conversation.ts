import type { TurnFrame } from './frames.ts';
import type { TurnImpl } from './turn.ts';
import type { WatchImpl } from './watch.ts';

/**
 * What the client knows of one conversation: where the gateway's relay to it stands, and
 * who consumes its frames (chats that have not ended, watches). Frames are deduplicated per
 * consumer, since a consumer may have asked for a replay from further back than another.
 */
export class Conversation {
  readonly id: string;
  /**
   * The newest seq the current socket was sent (or will resume after), as the gateway
   * counts it; `undefined` while not known.
   */
  seq: number | undefined;
  /** The current socket relays this conversation (a chat or a subscribe said so). */
  watched = false;
  /** The running turn as last seen (`null`: none; `undefined`: not known). */
  running: string | null | undefined;
  /** Frames held back while the history is reloaded after a `replay_gap`. */
  held: TurnFrame[] | null = null;
  /** While `held`: the seq after which frames go on once the history is reloaded. */
  resyncLastSeq: number | undefined;
  /** `lastSeq` of a `subscribed` that no turn frame has followed yet: where a gap ends. */
  gapBase: number | undefined;
  readonly watches = new Set<WatchImpl>();
  /** Chats not yet ended: sent or waiting to be, started or not. */
  readonly turns = new Set<TurnImpl>();

  constructor(id: string, seq?: number) {
    this.id = id;
    this.seq = seq;
  }

  /** Nobody consumes its frames: it is not resubscribed after a reconnect. */
  get idle(): boolean {
    return this.watches.size === 0 && this.turns.size === 0;
  }

  /**
   * The `afterSeq` to resume with after a reconnect: the oldest point any consumer still
   * needs (so each sees no gap; each drops its own duplicates), else the newest seq known.
   */
  resumePoint(): number | undefined {
    const points: number[] = [];
    for (const turn of this.turns) {
      if (turn.id !== undefined) points.push(turn.cursor);
      else if (turn.sent && turn.sentAfterSeq !== undefined) points.push(turn.sentAfterSeq);
    }
    for (const watch of this.watches) {
      if (watch.started) {
        if (watch.cursor !== undefined) points.push(watch.cursor);
      } else if (watch.afterSeq !== undefined) points.push(watch.afterSeq);
    }
    return points.length > 0 ? Math.min(...points) : this.seq;
  }
}
