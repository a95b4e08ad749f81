import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { OpenCalls } from '../protocol/open-calls.ts';
import { whenReady } from '../redis/connection.ts';
import { redisCall } from '../redis/errors.ts';
import { parsePublished } from '../redis/frame-json.ts';
import {
  type DeliveryTrouble,
  type FrameListener,
  failureEvents,
  type PublishedFrame,
  toPublished,
} from './frame-bus.ts';

/** Where a channel catches up from: the conversation's frame log. */
interface FrameLog {
  /**
   * The log's newest seq (0 before the first frame, or once lost), its running turn, and
   * its retained frames with seq > afterSeq, in order (none without afterSeq).
   */
  after(
    conversationId: string,
    afterSeq?: number,
  ): Promise<{ lastSeq: number; runningTurnId: string | null; frames: PublishedFrame[] }>;
}

/** Sent on a channel when the conversation's frames are deleted (it carries no seq). */
export const RESET = '{"type":"reset"}';

/** The turn a channel has seen start and not end, with the text its tokens carried. */
interface OpenTurn {
  readonly turnId: string;
  readonly model: string;
  readonly startedAt: number;
  text: string;
  readonly calls: OpenCalls;
}

/** This process's subscription to one conversation's channel, shared by its listeners. */
interface Channel {
  readonly conversationId: string;
  readonly listeners: Map<FrameListener, DeliveryTrouble | undefined>;
  /** Seq of the newest frame delivered: frames go out exactly once, in order. */
  lastSeq: number;
  /** Open turn, so that it can still be ended if the log loses it. */
  turn: OpenTurn | null;
  /** When a frame was last delivered (ms). */
  deliveredAt: number;
  /** Since when reading the log has failed (ms): Redis may hang without dropping the connection. */
  failingSince: number | undefined;
  /** While the log is read, live frames wait here. */
  held: PublishedFrame[] | null;
  /** Resolves once the channel delivers (SUBSCRIBE acknowledged, baseline read). */
  ready: Promise<void>;
}

const SUBSCRIBE_WAIT_MS = 1_000;
/** How often open turns are checked, and how quiet a turn must be to get checked. */
const WATCH_MS = 5_000;
/**
 * How long Redis may be unreachable while a turn is open before its listeners are told
 * (docs/protocol.md invariant 8: ended or closed within 40 s of the failure).
 */
const UNREACHABLE_MS = 25_000;

/**
 * Pub/Sub channels of one process, one Redis subscription per conversation however many
 * listeners it has. Pub/Sub loses messages across reconnects, so it is only the fast
 * path: a channel that sees a seq gap, or a connection that comes back, reads what was
 * missed from the log and holds live frames meanwhile. Listeners get each frame once, in
 * seq order.
 *
 * Redis can also lose its data (a restart without persistence, a failover to an empty
 * replica, FLUSHALL): the log then goes backwards. A catch-up that finds the log behind
 * what was delivered, a live frame at or below the delivered seq, or a quiet open turn
 * (checked every WATCH_MS) reads the log; if it went backwards, the open turn is ended
 * here with `error` unavailable and `turn-end` (nobody can end it in the log any more)
 * and listeners are reset to the log as it is. An open turn whose log cannot be read for
 * UNREACHABLE_MS is reported `unreachable` to its listeners.
 */
export class LiveChannels {
  readonly #sub: Redis;
  readonly #log: Logger;
  readonly #frames: FrameLog;
  readonly #channels = new Map<string, Channel>();
  /** Per channel, the tail of its SUBSCRIBE/UNSUBSCRIBE/catch-up operations, in order. */
  readonly #ops = new Map<string, Promise<void>>();
  readonly #watchdog: NodeJS.Timeout;
  /** Since when the subscriber connection has been down (ms), or undefined while up. */
  #downSince: number | undefined;
  #closed = false;

  constructor(options: { subscriber: Redis; log: Logger; frames: FrameLog }) {
    this.#sub = options.subscriber;
    this.#log = options.log;
    this.#frames = options.frames;
    this.#sub.on('message', (name: string, json: string) => this.#onMessage(name, json));
    this.#sub.on('close', () => {
      this.#downSince ??= Date.now();
    });
    // A new connection has no subscriptions: subscribe again, then read what was missed.
    this.#sub.on('ready', () => {
      this.#downSince = undefined;
      for (const [name, channel] of this.#channels) this.#queueCatchUp(name, channel, true);
    });
    this.#watchdog = setInterval(() => this.#watchOpenTurns(), WATCH_MS).unref();
  }

  /** Delivers the conversation's frames published from now on; resolves once they flow. */
  async subscribe(
    conversationId: string,
    name: string,
    listener: FrameListener,
    trouble?: DeliveryTrouble,
  ) {
    let channel = this.#channels.get(name);
    if (!channel) {
      const created: Channel = {
        conversationId,
        listeners: new Map(),
        lastSeq: 0,
        turn: null,
        deliveredAt: Date.now(),
        failingSince: undefined,
        held: [],
        ready: Promise.resolve(),
      };
      created.ready = this.#serial(name, () => this.#open(name, created));
      created.ready.catch(() => this.#drop(name, created));
      this.#channels.set(name, created);
      channel = created;
    }
    channel.listeners.set(listener, trouble);
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
    clearInterval(this.#watchdog);
    this.#channels.clear();
  }

  /**
   * First listener in this process: SUBSCRIBE, then the seq from which delivery starts.
   * A turn already running is followed from its retained frames, so that it can be ended
   * here should the log lose it.
   */
  async #open(name: string, channel: Channel): Promise<void> {
    await redisCall('subscribe', async () => {
      await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
      await this.#sub.subscribe(name);
      // Read after the SUBSCRIBE is acknowledged: every later frame arrives live.
      const log = await this.#frames.after(channel.conversationId);
      if (log.runningTurnId !== null) {
        const { frames } = await this.#frames.after(channel.conversationId, 0);
        for (const { frame } of frames) if (frame.seq <= log.lastSeq) followTurn(channel, frame);
      }
      channel.lastSeq = log.lastSeq;
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
    // An operation queued before this one may have released the channel: hold again.
    channel.held ??= [];
    while (!this.#closed && this.#channels.get(name) === channel) {
      try {
        if (resubscribe) {
          await whenReady(this.#sub, SUBSCRIBE_WAIT_MS);
          await this.#sub.subscribe(name);
          resubscribe = false;
        }
        const delivered = channel.lastSeq;
        const log = await this.#frames.after(channel.conversationId, delivered);
        if (log.lastSeq < delivered) {
          await this.#logLost(channel);
        } else {
          const first = log.frames[0]?.frame.seq ?? log.lastSeq + 1;
          if (first > delivered + 1) this.#missed(channel, first - 1);
          for (const published of log.frames) this.#deliver(channel, published);
        }
        channel.failingSince = undefined;
        break;
      } catch (error) {
        channel.failingSince ??= Date.now();
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
      channel.turn = null;
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
    } else {
      // Late news of a frame already read from the log, or a log that started again after
      // Redis lost it: the log tells which.
      this.#queueCatchUp(name, channel, false);
    }
  }

  #deliver(channel: Channel, published: PublishedFrame): void {
    if (published.frame.seq <= channel.lastSeq) return;
    channel.lastSeq = published.frame.seq;
    channel.deliveredAt = Date.now();
    followTurn(channel, published.frame);
    for (const listener of channel.listeners.keys()) {
      try {
        listener(published);
      } catch (error) {
        this.#log.error({ err: error }, 'frame listener threw');
      }
    }
  }

  /**
   * The log went backwards: Redis lost this conversation's frames. Ends the open turn for
   * this process's listeners (each gateway does the same, with the same seqs), resets them
   * to the log as it is now, and delivers what the new log holds.
   */
  async #logLost(channel: Channel): Promise<void> {
    const { conversationId } = channel;
    this.#log.warn({ conversationId, lastSeq: channel.lastSeq }, 'frame log lost; resetting');
    // Read first, so that the ending, the reset and the new log reach listeners together.
    const log = await this.#frames.after(conversationId, 0);
    const turn = channel.turn;
    if (turn) {
      const events = [
        ...turn.calls.closing("Redis lost this conversation's data during this call."),
        ...failureEvents(
          {
            code: 'unavailable',
            message: "Redis lost this conversation's data during the turn; the turn was ended.",
            retryable: true,
          },
          { text: turn.text, model: turn.model, durationMs: Date.now() - turn.startedAt },
        ),
      ];
      for (const event of events) {
        this.#deliver(
          channel,
          toPublished(conversationId, turn.turnId, channel.lastSeq + 1, event),
        );
      }
    }
    channel.lastSeq = 0;
    channel.turn = null;
    for (const trouble of channel.listeners.values()) trouble?.reset(0);
    for (const published of log.frames) this.#deliver(channel, published);
  }

  /**
   * Frames after the last one delivered are gone from the log too (it is capped): say so
   * rather than skip them silently. Delivery goes on after `lastSeq`.
   */
  #missed(channel: Channel, lastSeq: number): void {
    this.#log.warn(
      { conversationId: channel.conversationId, from: channel.lastSeq + 1, to: lastSeq },
      'frames missed and no longer in the log',
    );
    channel.lastSeq = lastSeq;
    for (const trouble of channel.listeners.values()) trouble?.reset(lastSeq);
  }

  /**
   * Every WATCH_MS: a quiet open turn gets its log read (which finds a log that went
   * backwards), and once Redis has been unreachable for UNREACHABLE_MS (its subscriber
   * connection down, or reads of the log failing, as when Redis hangs) every open turn's
   * listeners are told, once.
   */
  #watchOpenTurns(): void {
    const now = Date.now();
    for (const [name, channel] of this.#channels) {
      if (!channel.turn) continue;
      const since = this.#downSince ?? channel.failingSince;
      if (since !== undefined && now - since >= UNREACHABLE_MS) {
        this.#log.warn(
          { conversationId: channel.conversationId },
          'Redis unreachable during a turn',
        );
        channel.turn = null;
        for (const trouble of channel.listeners.values()) trouble?.unreachable();
      } else if (
        this.#downSince === undefined &&
        !channel.held &&
        now - channel.deliveredAt >= WATCH_MS
      ) {
        this.#queueCatchUp(name, channel, false);
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

/** Keeps the channel's open turn, and its text, up to date with a delivered frame. */
function followTurn(channel: Channel, frame: PublishedFrame['frame']): void {
  if (frame.type === 'turn-start') {
    channel.turn = {
      turnId: frame.turnId,
      model: frame.model,
      startedAt: Date.now(),
      text: '',
      calls: new OpenCalls(),
    };
  } else if (channel.turn?.turnId === frame.turnId) {
    if (frame.type === 'token') channel.turn.text += frame.text;
    else if (frame.type === 'turn-end') channel.turn = null;
    else channel.turn.calls.follow(frame);
  }
}
