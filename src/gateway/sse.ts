import type { FastifyReply } from 'fastify';
import { DrainWatch } from './drain-watch.ts';

/** A comment line this often keeps proxies from closing a stream that waits (an approval). */
export const SSE_HEARTBEAT_MS = 15_000;

export interface SseOptions {
  /** Headers besides the event-stream ones (a protocol's own marker). */
  readonly headers?: Record<string, string>;
  /** MAX_CLIENT_BUFFER_BYTES: a client that stops reading is cut off as a socket would be. */
  readonly maxBufferBytes: number;
  /** Called once when the stream ends, however it ends. */
  readonly onEnd?: () => void;
}

/**
 * A Server-Sent Events response: `data:` lines of JSON, each event with the `seq` of the
 * frame it came from as its `id` when there is one. Headers set on the reply so far
 * (security headers, CORS) are kept. A client that goes away, or stops reading for too
 * long (see DrainWatch), ends the stream; `signal` tells the writer to stop.
 */
export class SseStream {
  readonly #reply: FastifyReply;
  readonly #drain: DrainWatch;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #onEnd: (() => void) | undefined;
  readonly #ended = new AbortController();

  constructor(reply: FastifyReply, options: SseOptions) {
    this.#reply = reply;
    this.#onEnd = options.onEnd;
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // nginx and the like: pass events on as they come.
      'x-accel-buffering': 'no',
      ...options.headers,
    });
    raw.flushHeaders();
    this.#drain = new DrainWatch({
      limitBytes: options.maxBufferBytes,
      buffered: () => raw.writableLength,
      onStall: () => {
        raw.destroy();
        this.end();
      },
    });
    this.#heartbeat = setInterval(() => this.#write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
    this.#heartbeat.unref();
    raw.once('close', () => this.end());
    // Gone already (its `close` came before this stream could listen): ended at once.
    if (raw.destroyed) this.end();
  }

  /** Aborts once the stream has ended (the client went away, or it was ended here). */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  get ended(): boolean {
    return this.#ended.signal.aborted;
  }

  /** Writes one event per value, all with `id` when given. */
  send(values: readonly unknown[], id?: number): void {
    const prefix = id === undefined ? '' : `id: ${id}\n`;
    for (const value of values) this.#write(`${prefix}data: ${JSON.stringify(value)}\n\n`);
  }

  /** Writes a raw line of the stream (a protocol's own terminator, such as `data: [DONE]`). */
  sendRaw(text: string): void {
    this.#write(text);
  }

  /** Ends the response. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.#ended.abort();
    clearInterval(this.#heartbeat);
    this.#drain.stop();
    const raw = this.#reply.raw;
    if (!raw.writableEnded) raw.end();
    this.#onEnd?.();
  }

  #write(text: string): void {
    if (this.ended) return;
    const raw = this.#reply.raw;
    if (!this.#drain.mayWrite()) {
      // Holding four times MAX_CLIENT_BUFFER_BYTES unsent: cut off, as a socket would be.
      raw.destroy();
      this.end();
      return;
    }
    const before = raw.writableLength;
    raw.write(text);
    this.#drain.wrote(before);
  }
}
