/** A socket holding more than this many times MAX_CLIENT_BUFFER_BYTES is closed at once. */
export const HARD_LIMIT_FACTOR = 4;

/** How long a socket may stay over MAX_CLIENT_BUFFER_BYTES without draining a byte. */
export const STALL_MS = 10_000;

export interface DrainWatchOptions {
  /** MAX_CLIENT_BUFFER_BYTES: the soft limit. */
  readonly limitBytes: number;
  /** Bytes written to the socket and not yet sent. */
  readonly buffered: () => number;
  /** Called once the client has stalled over the limit. */
  readonly onStall: () => void;
  readonly stallMs?: number;
}

/**
 * Decides when a client that reads slower than its frames come must go.
 *
 * Closing as soon as the socket's buffer passes the limit also hits clients that do read,
 * only slower than a burst: a big answer on loopback, a busy machine. So the limit is soft:
 * a client over it is closed once it has drained nothing for a whole STALL_MS (checked every
 * STALL_MS while it stays over), and memory stays bounded by a hard limit, HARD_LIMIT_FACTOR
 * times the soft one, past which it is closed before the next frame is queued. A socket
 * thus holds at most the hard limit plus the frame being written.
 *
 * Pausing the relay and resuming it from the frame log later would hold no memory at all,
 * but the log keeps only so much: a slow reader would meet a replay_gap in mid-turn.
 */
export class DrainWatch {
  readonly #limit: number;
  readonly #hardLimit: number;
  readonly #stallMs: number;
  readonly #buffered: () => number;
  readonly #onStall: () => void;
  /** What the writes added to the buffer: minus what is left, what has drained. */
  #added = 0;
  #drainedAtCheck = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: DrainWatchOptions) {
    this.#limit = options.limitBytes;
    this.#hardLimit = options.limitBytes * HARD_LIMIT_FACTOR;
    this.#stallMs = options.stallMs ?? STALL_MS;
    this.#buffered = options.buffered;
    this.#onStall = options.onStall;
  }

  /** False once the buffer is past the hard limit: the client must be closed now. */
  mayWrite(): boolean {
    return this.#buffered() <= this.#hardLimit;
  }

  /** Call after each write, with the buffered amount from just before it. */
  wrote(before: number): void {
    const after = this.#buffered();
    this.#added += after - before;
    if (after > this.#limit && this.#timer === undefined) {
      this.#drainedAtCheck = this.#added - after;
      this.#timer = setInterval(() => this.#check(), this.#stallMs).unref();
    }
  }

  /** Stops watching. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(): void {
    const buffered = this.#buffered();
    if (buffered <= this.#limit) {
      this.stop();
      return;
    }
    // Bytes queued outside our writes (pings) can only lower this: never mistaken for progress.
    const drained = this.#added - buffered;
    if (drained > this.#drainedAtCheck) {
      this.#drainedAtCheck = drained;
      return;
    }
    this.stop();
    this.#onStall();
  }
}
