import type { DeliveryTrouble, FrameBus, PublishedFrame } from '../bus/frame-bus.ts';

/** Something that receives the frames of the conversations it watches (and hears of trouble). */
export interface FrameSink extends Partial<DeliveryTrouble> {
  deliver(published: PublishedFrame): void;
}

interface Topic {
  readonly sinks: Set<FrameSink>;
  /** Resolves to the bus unsubscribe once the bus delivers to this process. */
  readonly subscription: Promise<() => void>;
}

/**
 * Fan-out in one gateway process: one bus subscription per conversation, however many
 * sockets watch it, so each frame is serialised once (by the bus) and written to all.
 */
export class SubscriptionHub {
  readonly #bus: FrameBus;
  readonly #topics = new Map<string, Topic>();

  constructor(bus: FrameBus) {
    this.#bus = bus;
  }

  /** Resolves once frames published from now on reach `sink`. */
  async add(conversationId: string, sink: FrameSink): Promise<void> {
    let topic = this.#topics.get(conversationId);
    if (!topic) {
      const sinks = new Set<FrameSink>();
      const subscription = this.#bus.subscribe(
        conversationId,
        (published) => {
          for (const s of sinks) s.deliver(published);
        },
        {
          reset: (lastSeq) => {
            for (const s of [...sinks]) s.reset?.(lastSeq);
          },
          unreachable: () => {
            for (const s of [...sinks]) s.unreachable?.();
          },
        },
      );
      topic = { sinks, subscription };
      this.#topics.set(conversationId, topic);
      subscription.catch(() => this.#topics.delete(conversationId));
    }
    topic.sinks.add(sink);
    await topic.subscription;
  }

  remove(conversationId: string, sink: FrameSink): void {
    const topic = this.#topics.get(conversationId);
    if (!topic?.sinks.delete(sink) || topic.sinks.size > 0) return;
    this.#topics.delete(conversationId);
    topic.subscription.then(
      (unsubscribe) => unsubscribe(),
      // A subscription that failed was reported to the `add` that made it; nothing to undo.
      () => undefined,
    );
  }

  /** Number of conversations with at least one watcher in this process. */
  get size(): number {
    return this.#topics.size;
  }
}
