import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../metrics.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { ChatFrame, TurnFrame } from '../protocol/frames.ts';
import { validateFrame } from '../protocol/parse.ts';
import { sendHttpError } from './http-error.ts';
import { SseStream } from './sse.ts';
import type { FollowedTurn, TurnStreams } from './turn-streams.ts';

/**
 * A conversation id a client makes (AI SDK chat `id`, AG-UI `threadId`): 1–200 of
 * A–Z a–z 0–9 `_ - . :`, not starting with `.` or `:`. No braces, slashes or spaces, so it
 * is safe in Redis key hash tags and URL paths alike; ids the gateway issues (`c_…`) fit.
 */
export const ClientConversationId = z.string().regex(/^[\w-][\w.:-]{0,199}$/, {
  error: 'must be 1–200 of A–Z a–z 0–9 _ - . : (not starting with . or :)',
});

/** Turns the frames of one followed turn into one protocol's events. */
export interface TurnEncoder {
  /** Events before the first frame (AG-UI's RUN_STARTED; a continuation's opening). */
  begin(): unknown[];
  /** The events of one frame; `stop` ends the response after them. */
  frame(frame: TurnFrame): { events: unknown[]; stop: boolean };
  /** Events that end a stream cut short (frames lost, the gateway shutting down). */
  fail(error: ProtocolError): unknown[];
}

export interface SseAdaptersDeps {
  readonly streams: TurnStreams;
  readonly limits: Config['limits'];
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Answers whether a user may make one more request now (the adapters' rate limit). */
  readonly allow: (request: FastifyRequest) => Promise<boolean>;
}

/** What ends a stream when the gateway shuts down. */
function shuttingDown(): ProtocolError {
  return new ProtocolError(
    'unavailable',
    'The gateway is shutting down; the turn goes on: resume it from another gateway.',
  );
}

/** How one SSE response is served: the turn it follows, and how its events are written. */
export interface ServeOptions {
  /** Starts or finds the turn; undefined answers 204 (nothing to stream). */
  readonly start: (userId: string) => Promise<FollowedTurn | undefined>;
  readonly encoder: (turn: FollowedTurn) => TurnEncoder;
  /** The protocol's own response headers. */
  readonly headers?: Record<string, string>;
  /** Raw text written last on a stream that ends normally or in error (`data: [DONE]`). */
  readonly trailer?: string;
}

/**
 * What the HTTP adapters share: the limits they apply as WebSocket does (body size
 * MAX_FRAME_BYTES, requests per user, open streams per user, slow readers), refusals in
 * the protocol's error shape, and the serving of one turn as Server-Sent Events. A stream
 * whose client goes away only unsubscribes: the turn runs on.
 */
export class SseAdapters {
  readonly #d: SseAdaptersDeps;
  readonly #streamsPerUser = new Map<string, number>();
  readonly #open = new Set<FollowedTurn>();
  /** Shutdown began: a stream whose turn is found from now on ends at once. */
  #closing = false;

  constructor(deps: SseAdaptersDeps) {
    this.#d = deps;
  }

  /** Options of every adapter route: body limit, origin checks, the rate limit. */
  get routeOptions() {
    return {
      bodyLimit: this.#d.limits.maxFrameBytes,
      config: { crossOrigin: true },
      onRequest: this.#rateLimit,
    };
  }

  /**
   * Builds a chat frame from an adapter's body and validates it as a WebSocket chat frame
   * is validated (content length, model and agent names); throws bad_frame.
   */
  chatFrame(fields: {
    content: string;
    conversationId: string;
    model?: unknown;
    agent?: unknown;
  }): ChatFrame & { conversationId: string } {
    const parsed = validateFrame({
      type: 'chat',
      content: fields.content,
      conversationId: fields.conversationId,
      ...(fields.model !== undefined ? { model: fields.model } : {}),
      ...(fields.agent !== undefined ? { agent: fields.agent } : {}),
    });
    if (!parsed.ok) throw parsed.error;
    if (parsed.frame.type !== 'chat') throw new Error('a chat frame validated as another type');
    return { ...parsed.frame, conversationId: fields.conversationId };
  }

  /** Parses a body with `schema`; bad_frame names what is wrong. */
  parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
    throw new ProtocolError('bad_frame', `Not ${what}${where}: ${issue?.message ?? 'invalid'}.`);
  }

  /**
   * Serves one turn as an SSE response, or the refusal of the request as an HTTP error
   * (`{"error": …}`, another user's conversation as 404, as on REST).
   */
  async serve(request: FastifyRequest, reply: FastifyReply, options: ServeOptions) {
    const userId = request.userId;
    const release = this.#reserveStream(userId);
    if (!release) {
      return this.refuse(
        reply,
        new ProtocolError(
          'rate_limited',
          `Too many open streams for this user (limit ${this.#d.limits.maxSocketsPerUser}); close one first.`,
        ),
      );
    }
    // Starting may wait (admission, the frame log): a client that hangs up meanwhile has
    // closed its response before the stream could listen for it.
    let gone = reply.raw.destroyed;
    const onGone = () => {
      gone = true;
    };
    reply.raw.once('close', onGone);
    let turn: FollowedTurn | undefined;
    try {
      turn = await options.start(userId);
    } catch (error) {
      release();
      return this.refuse(reply, error);
    } finally {
      reply.raw.off('close', onGone);
    }
    if (!turn) {
      release();
      return reply.code(204).send();
    }
    if (gone || reply.raw.destroyed) {
      // Nobody to stream to: let go of the turn (it runs on) and of the user's stream.
      turn.follower.close();
      release();
      reply.hijack();
      return reply;
    }
    // Shutdown began while this one was starting: it ends at once, as the open ones did.
    if (this.#closing) turn.follower.fail(shuttingDown());
    const { metrics } = this.#d;
    metrics.sseStreamsOpen.inc();
    const sse = new SseStream(reply, {
      maxBufferBytes: this.#d.limits.maxClientBufferBytes,
      ...(options.headers ? { headers: options.headers } : {}),
      onEnd: () => {
        metrics.sseStreamsOpen.dec();
        release();
      },
    });
    await this.#pipe(turn, options.encoder(turn), sse, options.trailer);
    return reply;
  }

  /** Answers with the protocol's error shape; another user's conversation is 404. */
  refuse(reply: FastifyReply, error: unknown): FastifyReply {
    const refusal = this.#asClientError(error);
    this.#d.metrics.clientErrors.inc({ code: refusal.code });
    return sendHttpError(
      reply,
      refusal.code === 'forbidden'
        ? new ProtocolError('not_found', 'No such conversation.')
        : refusal,
    );
  }

  /**
   * Fastify's own refusals of an adapter request (its body: too large, not JSON, not
   * parsable) in the protocol's error shape.
   */
  readonly errorHandler = (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return this.refuse(
        reply,
        new ProtocolError(
          'frame_too_large',
          `The request body is over ${this.#d.limits.maxFrameBytes} bytes (MAX_FRAME_BYTES).`,
        ),
      );
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return this.refuse(
        reply,
        new ProtocolError('bad_frame', 'Send a JSON body (content-type: application/json).'),
      );
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return this.refuse(
        reply,
        new ProtocolError('bad_frame', `The request body is not valid JSON (${error.message}).`),
      );
    }
    return this.refuse(reply, error);
  };

  /**
   * Ends every open stream with the protocol's error (the gateway shuts down), and every
   * stream still starting as soon as its turn is found, so that none holds the shutdown up
   * until its turn ends: the turns go on, and a client resumes them from another gateway.
   */
  shutdown(): void {
    this.#closing = true;
    for (const turn of this.#open) turn.follower.fail(shuttingDown());
  }

  async #pipe(turn: FollowedTurn, encoder: TurnEncoder, sse: SseStream, trailer?: string) {
    const { follower } = turn;
    this.#open.add(turn);
    sse.signal.addEventListener('abort', () => follower.close(), { once: true });
    try {
      sse.send(encoder.begin());
      for await (const frame of follower.frames()) {
        const { events, stop } = encoder.frame(frame);
        sse.send(events, frame.seq);
        if (stop) break;
      }
    } catch (error) {
      const failure = this.#asClientError(error);
      this.#d.metrics.clientErrors.inc({ code: failure.code });
      sse.send(encoder.fail(failure));
    } finally {
      this.#open.delete(turn);
      follower.close();
      if (trailer !== undefined) sse.sendRaw(trailer);
      sse.end();
    }
  }

  /** The adapters' rate limit (see registerHttpAdapters), in the protocol's error shape. */
  readonly #rateLimit: onRequestHookHandler = async (request, reply) => {
    if (await this.#d.allow(request)) return;
    return this.refuse(
      reply,
      new ProtocolError(
        'rate_limited',
        `Too many requests; this user may make ${this.#d.limits.framesPerSecond} a second (RATE_LIMIT_FRAMES_PER_SEC).`,
      ),
    );
  };

  /** Counts an open stream of `userId`; undefined when they hold MAX_SOCKETS_PER_USER already. */
  #reserveStream(userId: string): (() => void) | undefined {
    const count = this.#streamsPerUser.get(userId) ?? 0;
    if (count >= this.#d.limits.maxSocketsPerUser) return undefined;
    this.#streamsPerUser.set(userId, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#streamsPerUser.get(userId) ?? 1) - 1;
      if (left > 0) this.#streamsPerUser.set(userId, left);
      else this.#streamsPerUser.delete(userId);
    };
  }

  #asClientError(error: unknown): ProtocolError {
    if (error instanceof ProtocolError) return error;
    const correlationId = randomUUID();
    this.#d.log.error({ err: error, correlationId }, 'adapter request failed');
    return new ProtocolError('internal', `Internal error (correlation id ${correlationId}).`);
  }
}
