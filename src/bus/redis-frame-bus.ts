import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ProtocolError } from '../protocol/errors.ts';
import type { TurnEvent } from '../protocol/frames.ts';
import type { RedisConnections } from '../redis/connection.ts';
import { execOrThrow, redisCall } from '../redis/errors.ts';
import { type FrameTemplate, frameTemplate, parsePublished, withSeq } from '../redis/frame-json.ts';
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
  type DeliveryTrouble,
  type FrameBus,
  type FrameListener,
  type PublishedFrame,
  RETAINED_FRAME_BYTES,
  RETAINED_FRAMES,
  type TurnStartEvent,
} from './frame-bus.ts';
import { LiveChannels, RESET } from './redis-live-channels.ts';

export interface RedisFrameBusOptions {
  /** Commands go on the shared connection; the bus opens its own subscriber. */
  readonly connections: RedisConnections;
  readonly log: Logger;
  /** Lifetime of a conversation's frame keys after its last frame. */
  readonly ttlSeconds: number;
  readonly prefix?: string;
  /** Most frames kept per conversation for replay (the newest). */
  readonly retainedFrames?: number;
  /** Most bytes of frame JSON kept per conversation for replay. */
  readonly retainedFrameBytes?: number;
  readonly turnLeaseMs?: number;
}

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
  readonly #retainBytes: number;
  readonly #leaseMs: number;
  readonly #live: LiveChannels;
  #closed = false;

  constructor(options: RedisFrameBusOptions) {
    this.#redis = options.connections.command;
    this.#log = options.log.child({ component: 'frame-bus' });
    this.#prefix = checkPrefix(options.prefix ?? DEFAULT_KEY_PREFIX);
    this.#ttl = Math.max(1, Math.round(options.ttlSeconds));
    this.#retain = options.retainedFrames ?? RETAINED_FRAMES;
    this.#retainBytes = options.retainedFrameBytes ?? RETAINED_FRAME_BYTES;
    this.#leaseMs = options.turnLeaseMs ?? DEFAULT_TURN_LEASE_MS;
    this.#sub = options.connections.open('subscriber', 'frames');
    this.#live = new LiveChannels({
      subscriber: this.#sub,
      log: this.#log,
      frames: {
        after: async (id, afterSeq) => {
          const { state, frames } = await this.replay(id, afterSeq);
          return { lastSeq: state.lastSeq, runningTurnId: state.runningTurnId, frames };
        },
      },
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
        [k.running, k.seq, k.frames, k.frameBytes],
        this.#appendArgs(k, turnId, template),
      ),
    );
    return seq === null ? undefined : withSeq(template, Number(seq));
  }

  /**
   * Publishes a frame of a turn that holds the conversation (or whose lease lapsed with no
   * other turn started). Undefined for a turn that has ended or lost the conversation to
   * another: its frames are dropped, never interleaved.
   */
  async publish(
    conversationId: string,
    turnId: string,
    event: TurnEvent,
  ): Promise<PublishedFrame | undefined> {
    const k = this.#keys(conversationId);
    const template = frameTemplate(conversationId, turnId, event);
    const seq = await redisCall('publish frame', () =>
      PUBLISH_FRAME.run(
        this.#redis,
        [k.running, k.seq, k.frames, k.frameBytes, k.ended],
        [...this.#appendArgs(k, turnId, template), event.type === 'turn-end' ? '1' : '0'],
      ),
    );
    return seq === null ? undefined : withSeq(template, Number(seq));
  }

  async subscribe(
    conversationId: string,
    listener: FrameListener,
    trouble?: DeliveryTrouble,
  ): Promise<() => void> {
    if (this.#closed) throw new ProtocolError('unavailable', 'The frame bus is closed.');
    return this.#live.subscribe(conversationId, this.#keys(conversationId).live, listener, trouble);
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
      execOrThrow(
        this.#redis
          .multi()
          .del(k.running, k.seq, k.frames, k.frameBytes, k.ended, k.cancelled)
          .publish(k.live, RESET)
          .exec(),
      ),
    );
  }

  /** Stops every subscription; the connection manager closes the subscriber. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#live.close();
    this.#sub.disconnect(false);
  }

  /** ARGV of the append both frame scripts share (see scripts.ts). */
  #appendArgs(k: ConversationKeys, turnId: string, template: FrameTemplate) {
    const { head, tail } = template;
    return [turnId, head, tail, this.#retain, this.#leaseMs, this.#ttl, k.live, this.#retainBytes];
  }

  #keys(conversationId: string): ConversationKeys {
    return conversationKeys(this.#prefix, conversationId);
  }
}
