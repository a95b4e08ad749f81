import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { whenReady } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import { parsePublished } from '../redis/frame-json.ts';
import type { FrameListener, PublishedFrame } from './frame-bus.ts';

/** Where a channel catches up from: the conversation's frame log. */
interface FrameLog {
  /** Seq of the newest frame, 0 before the first. */
  lastSeq(conversationId: string): Promise<number>;
  /** The retained frames with seq > afterSeq, in order. */
  framesAfter(conversationId: string, afterSeq: number): Promise<PublishedFrame[]>;
}

/** Sent on a channel when the conversation's frames are deleted (it carries no seq). */
export const RESET = '{"type":"reset"}';

/** This process's subscription to one conversation's channel, shared by its listeners. */
interface Channel {
  readonly conversationId: string;
  readonly listeners: Set<FrameListener>;
  /** Seq of the newest frame delivered: frames go out exactly once, in order. */
  lastSeq: number;
  /** While the log is read, live frames wait here. */
  held: PublishedFrame[] | null;
  /** Resolves once the channel delivers (SUBSCRIBE acknowledged, baseline read). */
  ready: Promise<void>;
}

const SUBSCRIBE_WAIT_MS = 1_000;

/**
 * Pub/Sub channels of one process, one Redis subscription per conversation however many
 * listeners it has. Pub/Sub loses messages across reconnects, so it is only the fast
 * path: a channel that sees a seq gap, or a connection that comes back, reads what was
 * missed from the log and holds live frames meanwhile. Listeners get each frame once, in
 * seq order.
 */
export class LiveChannels {
  readonly #sub: Redis;
  readonly #log: Logger;
  readonly #frames: FrameLog;
  readonly #channels = new Map<string, Channel>();
  /** Per channel, the tail of its SUBSCRIBE/UNSUBSCRIBE/catch-up operations, in order. */
  readonly #ops = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: { subscriber: Redis; log: Logger; frames: FrameLog }) {
    this.#sub = options.subscriber;
    this.#log = options.log;
    this.#frames = options.frames;
    this.#sub.on('message', (name: string, json: string) => this.#onMessage(name, json));
    // A new connection has no subscriptions: subscribe again, then read what was missed.
    this.#sub.on('ready', () => {
      for (const [name, channel] of this.#channels) this.#queueCatchUp(name, channel, true);
    });
  }

  /** Delivers the conversation's frames published from now on; resolves once they flow. */
  async subscribe(conversationId: string, name: string, listener: FrameListener) {
    let channel = this.#channels.get(name);
    if (!channel) {
      const created: Channel = {
        conversationId,
        listeners: new Set(),
        lastSeq: 0,
        held: [],
        ready: Promise.resolve(),
      };
      created.ready = this.#serial(name, () => this.#open(name, created));
      created.ready.catch(() => this.#drop(name, created));
      this.#channels.set(name, created);
      channel = created;
    }
    channel.listeners.add(listener);
    await channel.ready;
    const subscribed = channel;
    return () => {
      subscribed.listeners.delete(listener);
      if (subscribed.listeners.size === 0) this.#drop(name, subscribed);
    };
  }

  /** Idempotent; the connection itself is closed by its owner. */
  close(): void {
    this.#closed = true;
    this.#channels.clear();
  }

  /** First listener in this process: SUBSCRIBE, then the seq from which delivery starts. */
  async #open(name: string, channel: Channel): Promise<void> {
    await redisCall('subscribe', async () => {
      await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
      await this.#sub.subscribe(name);
      // Read after the SUBSCRIBE is acknowledged: every later frame arrives live.
      channel.lastSeq = await this.#frames.lastSeq(channel.conversationId);
    });
    this.#release(channel);
  }

  #queueCatchUp(name: string, channel: Channel, resubscribe: boolean): void {
    channel.held ??= [];
    this.#serial(name, () => this.#catchUp(name, channel, resubscribe)).catch((error: unknown) =>
      this.#log.error({ err: error, channel: name }, 'catching up failed'),
    );
  }

  /**
   * Reads every frame after the last one delivered from the log, then releases the held
   * live frames. Retries until it succeeds or the channel is dropped.
   */
  async #catchUp(name: string, channel: Channel, resubscribe: boolean): Promise<void> {
    while (!this.#closed && this.#channels.get(name) === channel) {
      try {
        if (resubscribe) {
          await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
          await this.#sub.subscribe(name);
          resubscribe = false;
        }
        const frames = await this.#frames.framesAfter(channel.conversationId, channel.lastSeq);
        for (const published of frames) this.#deliver(channel, published);
        break;
      } catch (error) {
        this.#log.warn({ err: error, channel: name }, 'catching up from the log failed; retrying');
        await sleep(500);
      }
    }
    this.#release(channel);
  }

  #onMessage(name: string, json: string): void {
    const channel = this.#channels.get(name);
    if (!channel) return;
    let published: PublishedFrame;
    try {
      published = parsePublished(json);
    } catch (error) {
      this.#log.error({ err: error, channel: name }, 'unreadable frame on the channel');
      return;
    }
    const { seq } = published.frame;
    if (seq === undefined) {
      // RESET: the conversation was deleted; if it starts again, its seq begins anew.
      channel.lastSeq = 0;
      return;
    }
    if (channel.held) {
      channel.held.push(published);
    } else if (seq === channel.lastSeq + 1) {
      this.#deliver(channel, published);
    } else if (seq > channel.lastSeq + 1) {
      // A frame went missing on the way (reconnect, slow subscriber): the log has it.
      channel.held = [published];
      this.#queueCatchUp(name, channel, false);
    }
  }

  #deliver(channel: Channel, published: PublishedFrame): void {
    if (published.frame.seq <= channel.lastSeq) return;
    channel.lastSeq = published.frame.seq;
    for (const listener of channel.listeners) {
      try {
        listener(published);
      } catch (error) {
        this.#log.error({ err: error }, 'frame listener threw');
      }
    }
  }

  /** Delivers the held frames in seq order and goes live. */
  #release(channel: Channel): void {
    const held = channel.held ?? [];
    channel.held = null;
    held.sort((a, b) => a.frame.seq - b.frame.seq);
    for (const published of held) this.#deliver(channel, published);
  }

  /** The last listener left (or subscribing failed): UNSUBSCRIBE, after pending operations. */
  #drop(name: string, channel: Channel): void {
    if (this.#channels.get(name) !== channel) return;
    this.#channels.delete(name);
    if (this.#closed) return;
    this.#serial(name, async () => {
      // Closed, wanted again meanwhile, or on a new connection: nothing to undo.
      if (this.#closed || this.#channels.has(name) || this.#sub.status !== 'ready') return;
      await this.#sub.unsubscribe(name);
    }).catch((error: unknown) =>
      this.#log.warn({ err: error, channel: name }, 'unsubscribe failed'),
    );
  }

  /** Runs operations on one channel one after another, so the server sees them in order. */
  #serial(name: string, op: () => Promise<void>): Promise<void> {
    const next = (this.#ops.get(name) ?? Promise.resolve()).then(op, op);
    // The tail only orders what follows; each caller handles its own operation's failure.
    const tail = next.then(
      () => {},
      () => {},
    );
    this.#ops.set(name, tail);
    void tail.then(() => {
      if (this.#ops.get(name) === tail) this.#ops.delete(name);
    });
    return next;
  }
}
