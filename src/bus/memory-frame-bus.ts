import type { TurnEvent } from '../protocol/frames.ts';
import {
  type ConversationFrames,
  type FrameBus,
  type FrameListener,
  type PublishedFrame,
  RETAINED_FRAME_BYTES,
  RETAINED_FRAMES,
  type TurnStartEvent,
  toPublished,
} from './frame-bus.ts';

interface Retained {
  readonly published: PublishedFrame;
  readonly bytes: number;
}

interface Channel {
  touchedAt: number;
  lastSeq: number;
  /** The newest frames, oldest first, within both caps. */
  retained: Retained[];
  retainedBytes: number;
  runningTurnId: string | null;
  listeners: Set<FrameListener>;
}

/**
 * The embedded bus: one process, synchronous delivery in publish order. A conversation's
 * frames are forgotten once it has been idle for `idleTtlMs` with nobody watching and no
 * turn running, so a long-lived process does not keep every conversation it ever saw.
 */
export class MemoryFrameBus implements FrameBus {
  readonly #channels = new Map<string, Channel>();
  readonly #retain: number;
  readonly #retainBytes: number;
  readonly #idleTtlMs: number;
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    options: { retainedFrames?: number; retainedFrameBytes?: number; idleTtlMs?: number } = {},
  ) {
    this.#retain = options.retainedFrames ?? RETAINED_FRAMES;
    this.#retainBytes = options.retainedFrameBytes ?? RETAINED_FRAME_BYTES;
    this.#idleTtlMs = options.idleTtlMs ?? 24 * 3600_000;
    this.#sweeper = setInterval(() => this.sweep(), Math.min(this.#idleTtlMs, 60_000)).unref();
  }

  /** Forgets idle conversations; runs by itself every minute. */
  sweep(now = Date.now()): void {
    for (const [conversationId, channel] of this.#channels) {
      const idle = channel.listeners.size === 0 && channel.runningTurnId === null;
      if (idle && now - channel.touchedAt >= this.#idleTtlMs) this.#channels.delete(conversationId);
    }
  }

  async startTurn(conversationId: string, turnId: string, event: TurnStartEvent) {
    const channel = this.#channel(conversationId);
    if (channel.runningTurnId !== null) return undefined;
    channel.runningTurnId = turnId;
    return this.#append(conversationId, channel, turnId, event);
  }

  async publish(conversationId: string, turnId: string, event: TurnEvent) {
    const channel = this.#channel(conversationId);
    if (event.type === 'turn-end' && channel.runningTurnId === turnId) {
      channel.runningTurnId = null;
    }
    return this.#append(conversationId, channel, turnId, event);
  }

  async subscribe(conversationId: string, listener: FrameListener) {
    const channel = this.#channel(conversationId);
    channel.listeners.add(listener);
    return () => {
      channel.listeners.delete(listener);
      this.#dropIfIdle(conversationId, channel);
    };
  }

  async replay(conversationId: string, afterSeq?: number) {
    const channel = this.#channels.get(conversationId);
    const state: ConversationFrames = {
      lastSeq: channel?.lastSeq ?? 0,
      firstRetainedSeq: channel?.retained[0]?.published.frame.seq ?? (channel?.lastSeq ?? 0) + 1,
      runningTurnId: channel?.runningTurnId ?? null,
    };
    const frames =
      afterSeq === undefined || !channel
        ? []
        : channel.retained.flatMap((r) => (r.published.frame.seq > afterSeq ? [r.published] : []));
    return { state, frames };
  }

  async delete(conversationId: string) {
    const channel = this.#channels.get(conversationId);
    if (!channel) return;
    channel.retained = [];
    channel.retainedBytes = 0;
    channel.runningTurnId = null;
    channel.lastSeq = 0;
    this.#dropIfIdle(conversationId, channel);
  }

  async close() {
    clearInterval(this.#sweeper);
    this.#channels.clear();
  }

  #append(conversationId: string, channel: Channel, turnId: string, event: TurnEvent) {
    const published = toPublished(conversationId, turnId, ++channel.lastSeq, event);
    channel.touchedAt = Date.now();
    const bytes = Buffer.byteLength(published.json);
    channel.retained.push({ published, bytes });
    channel.retainedBytes += bytes;
    while (channel.retained.length > this.#retain || channel.retainedBytes > this.#retainBytes) {
      channel.retainedBytes -= channel.retained.shift()!.bytes;
    }
    for (const listener of channel.listeners) listener(published);
    return published;
  }

  #channel(conversationId: string): Channel {
    let channel = this.#channels.get(conversationId);
    if (!channel) {
      channel = {
        touchedAt: Date.now(),
        lastSeq: 0,
        retained: [],
        retainedBytes: 0,
        runningTurnId: null,
        listeners: new Set(),
      };
      this.#channels.set(conversationId, channel);
    }
    return channel;
  }

  #dropIfIdle(conversationId: string, channel: Channel) {
    if (channel.listeners.size === 0 && channel.lastSeq === 0)
      this.#channels.delete(conversationId);
  }
}
