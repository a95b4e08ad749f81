import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ProtocolError } from '../protocol/errors.ts';
import type { TurnEvent } from '../protocol/frames.ts';
import { type RedisConnections, whenReady } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import { frameTemplate, parsePublished, withSeq } from '../redis/frame-json.ts';
import {
  type ConversationKeys,
  checkPrefix,
  conversationKeys,
  DEFAULT_KEY_PREFIX,
  DEFAULT_TURN_LEASE_MS,
} from '../redis/keys.ts';
import { PUBLISH_FRAME, REPLAY, START_TURN } from '../redis/scripts.ts';
import {
  type ConversationFrames,
  type FrameBus,
  type FrameListener,
  type PublishedFrame,
  RETAINED_FRAMES,
  type TurnStartEvent,
} from './frame-bus.ts';

export interface RedisFrameBusOptions {
  /** Commands go on the shared connection; the bus opens its own subscriber. */
  readonly connections: RedisConnections;
  readonly log: Logger;
  /** Lifetime of a conversation's frame keys after its last frame. */
  readonly ttlSeconds: number;
  readonly prefix?: string;
  /** Frames kept per conversation for replay (exactly this many, newest). */
  readonly retainedFrames?: number;
  readonly turnLeaseMs?: number;
}

/** This process's subscription to one conversation's channel, shared by its listeners. */
interface Channel {
  readonly conversationId: string;
  readonly keys: ConversationKeys;
  readonly listeners: Set<FrameListener>;
  /** Seq of the newest frame delivered; frames arrive exactly once and in order. */
  lastSeq: number;
  /** While the log is read, live frames wait here. */
  held: PublishedFrame[] | null;
  /** Resolves once the channel delivers (SUBSCRIBE acknowledged, baseline read). */
  ready: Promise<void>;
}

const SUBSCRIBE_WAIT_MS = 2_000;

/**
 * Frames through Redis. Each frame is one script: seq from INCR, an entry `<seq>-0` in the
 * conversation's capped stream (the log), PUBLISH of the same JSON on its channel, and for
 * turn-start/turn-end the claim on the conversation. Pub/Sub only carries frames fast: a
 * subscriber that sees a gap, or reconnects, reads what it missed from the log, so
 * listeners get every frame once, in seq order. Redis failures surface as `unavailable`.
 */
export class RedisFrameBus implements FrameBus {
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #log: Logger;
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #retain: number;
  readonly #leaseMs: number;
  readonly #channels = new Map<string, Channel>();
  /** Per channel name, the tail of its SUBSCRIBE/UNSUBSCRIBE/catch-up operations, in order. */
  readonly #ops = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: RedisFrameBusOptions) {
    this.#redis = options.connections.command;
    this.#log = options.log.child({ component: 'frame-bus' });
    this.#prefix = checkPrefix(options.prefix ?? DEFAULT_KEY_PREFIX);
    this.#ttl = Math.max(1, Math.round(options.ttlSeconds));
    this.#retain = options.retainedFrames ?? RETAINED_FRAMES;
    this.#leaseMs = options.turnLeaseMs ?? DEFAULT_TURN_LEASE_MS;
    this.#sub = options.connections.open('subscriber', 'agentgate-frames');
    this.#sub.on('message', (channel: string, json: string) => this.#onMessage(channel, json));
    // A new connection has no subscriptions: subscribe again, then read what was missed.
    this.#sub.on('ready', () => {
      for (const [name, channel] of this.#channels) {
        this.#serial(name, () => this.#catchUp(name, channel, true)).catch(() => {});
      }
    });
  }

  async startTurn(
    conversationId: string,
    turnId: string,
    event: TurnStartEvent,
  ): Promise<PublishedFrame | undefined> {
    const k = this.#keys(conversationId);
    const template = frameTemplate(conversationId, turnId, event);
    const seq = await redisCall('start turn', () =>
      START_TURN.run(
        this.#redis,
        [k.running, k.seq, k.frames],
        [turnId, template.head, template.tail, this.#retain, this.#leaseMs, this.#ttl, k.live],
      ),
    );
    return seq === null ? undefined : withSeq(template, Number(seq));
  }

  /**
   * Publishes a frame of a turn that holds the conversation (or whose lease lapsed with no
   * other turn started). Throws `worker_lost` for a turn that has ended or lost the
   * conversation to another: its frames are dropped, never interleaved.
   */
  async publish(conversationId: string, turnId: string, event: TurnEvent): Promise<PublishedFrame> {
    const k = this.#keys(conversationId);
    const template = frameTemplate(conversationId, turnId, event);
    const seq = await redisCall('publish frame', () =>
      PUBLISH_FRAME.run(
        this.#redis,
        [k.running, k.seq, k.frames, k.ended],
        [
          turnId,
          template.head,
          template.tail,
          this.#retain,
          this.#leaseMs,
          this.#ttl,
          k.live,
          event.type === 'turn-end' ? '1' : '0',
        ],
      ),
    );
    if (seq === null) {
      throw new ProtocolError(
        'worker_lost',
        `Turn ${turnId} no longer runs in conversation ${conversationId}; its ${event.type} frame was dropped.`,
      );
    }
    return withSeq(template, Number(seq));
  }

  async subscribe(conversationId: string, listener: FrameListener): Promise<() => void> {
    if (this.#closed) throw new ProtocolError('unavailable', 'The frame bus is closed.');
    const k = this.#keys(conversationId);
    let channel = this.#channels.get(k.live);
    if (!channel) {
      const created: Channel = {
        conversationId,
        keys: k,
        listeners: new Set(),
        lastSeq: 0,
        held: [],
        ready: Promise.resolve(),
      };
      created.ready = this.#serial(k.live, () => this.#open(k.live, created));
      created.ready.catch(() => this.#drop(k.live, created));
      this.#channels.set(k.live, created);
      channel = created;
    }
    channel.listeners.add(listener);
    await channel.ready;
    const subscribed = channel;
    return () => {
      subscribed.listeners.delete(listener);
      if (subscribed.listeners.size === 0) this.#drop(k.live, subscribed);
    };
  }

  async replay(
    conversationId: string,
    afterSeq?: number,
  ): Promise<{ state: ConversationFrames; frames: PublishedFrame[] }> {
    const k = this.#keys(conversationId);
    const raw = (await redisCall('replay frames', () =>
      REPLAY.run(this.#redis, [k.running, k.seq, k.frames], [afterSeq ?? '']),
    )) as [number, string, number, ...string[]];
    const [lastSeq, running, first, ...frames] = raw;
    return {
      state: {
        lastSeq,
        firstRetainedSeq: first > 0 ? first : lastSeq + 1,
        runningTurnId: running === '' ? null : running,
      },
      frames: frames.map(parsePublished),
    };
  }

  async delete(conversationId: string): Promise<void> {
    const k = this.#keys(conversationId);
    await redisCall('delete frames', () =>
      this.#redis.del(k.running, k.seq, k.frames, k.ended, k.cancelled),
    );
  }

  async ping(): Promise<void> {
    await redisCall('ping', () => this.#redis.ping());
  }

  /** Stops every subscription; the connection manager closes the subscriber. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    this.#sub.disconnect(false);
  }

  /** First subscriber in this process: SUBSCRIBE, then the seq from which delivery starts. */
  async #open(name: string, channel: Channel): Promise<void> {
    await redisCall('subscribe', async () => {
      await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
      await this.#sub.subscribe(name);
      // Read after the SUBSCRIBE is acknowledged: every later frame arrives live.
      channel.lastSeq = Number((await this.#redis.get(channel.keys.seq)) ?? 0);
    });
    this.#release(channel);
  }

  /**
   * Reads from the log every frame after the last one delivered, then releases the held
   * live frames. Retries until it succeeds or the channel is dropped: frames wait meanwhile.
   */
  async #catchUp(name: string, channel: Channel, resubscribe: boolean): Promise<void> {
    channel.held ??= [];
    while (!this.#closed && this.#channels.get(name) === channel) {
      try {
        if (resubscribe) {
          await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
          await this.#sub.subscribe(name);
          resubscribe = false;
        }
        const { frames } = await this.replay(channel.conversationId, channel.lastSeq);
        for (const published of frames) this.#deliver(channel, published);
        break;
      } catch (error) {
        this.#log.warn(
          { err: error, channel: name },
          'catching up from the frame log failed; retrying',
        );
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
    const { seq, type } = published.frame;
    // The conversation was deleted and started again: its seq began anew.
    if (seq === 1 && type === 'turn-start') channel.lastSeq = 0;
    if (channel.held) {
      channel.held.push(published);
    } else if (seq === channel.lastSeq + 1) {
      this.#deliver(channel, published);
    } else if (seq > channel.lastSeq + 1) {
      // A frame went missing on the way (reconnect, dropped subscriber): the log has it.
      channel.held = [published];
      this.#serial(name, () => this.#catchUp(name, channel, false)).catch(() => {});
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

  /** The last listener left (or the subscription failed): UNSUBSCRIBE, after pending ops. */
  #drop(name: string, channel: Channel): void {
    if (this.#channels.get(name) !== channel) return;
    this.#channels.delete(name);
    if (this.#closed) return;
    this.#serial(name, async () => {
      if (!this.#channels.has(name) && this.#sub.status === 'ready')
        await this.#sub.unsubscribe(name);
    }).catch((error: unknown) =>
      this.#log.warn({ err: error, channel: name }, 'unsubscribe failed'),
    );
  }

  /** Runs operations on one channel name one after another, so the server sees them in order. */
  #serial(name: string, op: () => Promise<void>): Promise<void> {
    const next = (this.#ops.get(name) ?? Promise.resolve()).then(op, op);
    const tail = next.catch(() => {});
    this.#ops.set(name, tail);
    void tail.then(() => {
      if (this.#ops.get(name) === tail) this.#ops.delete(name);
    });
    return next;
  }

  #keys(conversationId: string): ConversationKeys {
    return conversationKeys(this.#prefix, conversationId);
  }
}
