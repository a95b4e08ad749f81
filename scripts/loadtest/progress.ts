/** Where progress goes: process.stderr, or anything shaped like it. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/**
 * A live progress line while a run goes on. On a terminal it is one line, rewritten in place
 * (cut to the terminal's width, since a wrapped line cannot be rewritten); elsewhere (a file,
 * CI) it is a whole line now and then, so a log shows the run advancing without flooding.
 * Idempotent stop; the line is cleared from a terminal so the summary follows cleanly.
 */
export class Progress {
  readonly #stream: ProgressStream;
  readonly #line: () => string;
  readonly #timer: NodeJS.Timeout;
  #stopped = false;

  constructor(stream: ProgressStream, line: () => string, intervalMs?: number) {
    this.#stream = stream;
    this.#line = line;
    const every = intervalMs ?? (stream.isTTY ? 250 : 5_000);
    this.#timer = setInterval(() => this.#show(), every);
    this.#timer.unref();
  }

  #show(): void {
    const line = this.#line();
    if (!this.#stream.isTTY) {
      this.#stream.write(`${line}\n`);
      return;
    }
    const width = this.#stream.columns ?? 80;
    const cut = line.length < width ? line : `${line.slice(0, Math.max(0, width - 2))}…`;
    this.#stream.write(`\r${cut}\x1b[K`);
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    if (this.#stream.isTTY) this.#stream.write('\r\x1b[K');
  }
}
