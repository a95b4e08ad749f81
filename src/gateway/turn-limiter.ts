import type { PublishedFrame } from '../bus/frame-bus.ts';
import type { FrameSink, SubscriptionHub } from './hub.ts';

/**
 * Running turns per user, for the turns this gateway accepted. A turn counts from its
 * acceptance until its `turn-end` passes through the hub, whether or not a socket still
 * watches the conversation.
 */
export class UserTurnLimiter {
  readonly #hub: SubscriptionHub;
  readonly #max: number;
  readonly #byUser = new Map<string, Set<string>>();

  constructor(hub: SubscriptionHub, maxPerUser: number) {
    this.#hub = hub;
    this.#max = maxPerUser;
  }

  /** Reserves a turn; false when the user already runs the maximum. */
  tryAcquire(userId: string, turnId: string): boolean {
    const turns = this.#byUser.get(userId) ?? new Set<string>();
    if (turns.size >= this.#max) return false;
    turns.add(turnId);
    this.#byUser.set(userId, turns);
    return true;
  }

  /**
   * Watches a reserved turn until its `turn-end`; must be in place before the turn starts.
   * Returns what undoes the reservation if the turn never starts.
   */
  async watch(userId: string, conversationId: string, turnId: string): Promise<() => void> {
    const done = () => {
      this.release(userId, turnId);
      this.#hub.remove(conversationId, sink);
    };
    const sink: FrameSink = {
      deliver: ({ frame }: PublishedFrame) => {
        if (frame.type === 'turn-end' && frame.turnId === turnId) done();
      },
      // Frames were lost, the turn-end perhaps among them: counting the turn on forever
      // would lock the user out; at worst they run one turn too many for a while.
      reset: done,
    };
    await this.#hub.add(conversationId, sink);
    return done;
  }

  release(userId: string, turnId: string): void {
    const turns = this.#byUser.get(userId);
    if (!turns?.delete(turnId)) return;
    if (turns.size === 0) this.#byUser.delete(userId);
  }

  running(userId: string): number {
    return this.#byUser.get(userId)?.size ?? 0;
  }
}
