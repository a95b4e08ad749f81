/**
 * The benchmark's load generator, in a process of its own (started by scripts/bench.ts,
 * driven over the message channel). Told the system's URL (`start`), it opens C sockets, runs the warm-up turns, waits for
 * `go`, runs T measured turns per socket (the sockets at once, each one turn after another),
 * and reports. Lean on purpose, since it shares the cores with what it measures: plain `ws`,
 * one JSON.parse per frame, the text of each turn compared with the one the bench model
 * was bound to send. With `invariants`, every turn's frames are also held to the protocol's
 * invariants (test/helpers/invariants.ts), which costs more CPU: the scale mode's check.
 *
 * Messages: waits for `start` with the URL → `connected` → (idle: wait for `exit`) → `warm` → waits for `go` → `progress`… →
 * `done` with the result → waits for `exit`.
 */
import WebSocket from 'ws';
import { z } from 'zod';
import { benchText } from '../../test/emulator/index.ts';
import type { Frame } from '../../test/helpers/ws-client.ts';
import { textMismatch } from './text-check.ts';

const Config = z.object({
  clients: z.int().min(1),
  warmup: z.int().min(0),
  /** Measured turns per client; 0: connect, report, and hold the sockets idle. */
  turns: z.int().min(0),
  chunks: z.int().min(1),
  chunkChars: z.int().min(1),
  invariants: z.boolean(),
  timeoutMs: z.int().min(1),
});
type Config = z.infer<typeof Config>;

/** What the measured phase adds up (errors and mismatches: the warm-up's too). */
export interface LoadResult {
  clients: number;
  connected: number;
  turnsPlanned: number;
  /** Measured turns that ended with `turn-end`. */
  turnsCompleted: number;
  /** Measured turns that ended with no error, the exact text and (when checked) every invariant. */
  turnsClean: number;
  /** Turns, the warm-up's too, with an error, a wrong text, a broken invariant, or no end. */
  turnsFailed: number;
  elapsedMs: number;
  /** `token` frames received in the measured phase. */
  chunks: number;
  /** Bytes of every frame received in the measured phase (payloads, as sent). */
  bytes: number;
  frames: number;
  ttftMs: number[];
  turnMs: number[];
  errors: Record<string, number>;
  textMismatches: number;
  invariantFailures: number;
  /** The first few mismatches and invariant failures, said in words. */
  examples: string[];
}

const MAX_EXAMPLES = 5;
/** Handshakes in flight at once: more only overflow the server's accept queue. */
const CONNECT_CONCURRENCY = 200;

const config: Config = Config.parse(JSON.parse(process.argv[2] ?? '{}'));
// Loaded only when asked: it brings the protocol's schemas and an assertion library.
const checkTurn = config.invariants
  ? (await import('../../test/helpers/invariants.ts')).checkTurn
  : undefined;
const tally = {
  turnsDone: 0,
  turnsClean: 0,
  turnsFailed: 0,
  chunks: 0,
  bytes: 0,
  frames: 0,
  ttftMs: [] as number[],
  turnMs: [] as number[],
  errors: new Map<string, number>(),
  textMismatches: 0,
  invariantFailures: 0,
  examples: [] as string[],
};

function bump(code: string): void {
  tally.errors.set(code, (tally.errors.get(code) ?? 0) + 1);
}

function example(text: string): void {
  if (tally.examples.length < MAX_EXAMPLES) tally.examples.push(text);
}

function send(message: Record<string, unknown>): void {
  process.send?.(message);
}

function nextMessage(type: string): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (message: { type?: string }) => {
      if (message?.type !== type) return;
      process.off('message', on);
      resolve(message);
    };
    process.on('message', on);
  });
}

interface Turn {
  readonly requestId: string;
  readonly expected: string;
  readonly sentAt: number;
  readonly measured: boolean;
  readonly frames: Frame[] | undefined;
  readonly done: () => void;
  failed: boolean;
  text: string;
  firstAt: number;
}

/** One socket and the turns it runs, one after another. */
class Client {
  readonly index: number;
  readonly socket: WebSocket;
  readonly ready: Promise<boolean>;
  #turn: Turn | undefined;
  #turns = 0;
  #open = false;

  constructor(index: number, url: string) {
    this.index = index;
    this.socket = new WebSocket(url);
    this.ready = new Promise((resolve) => {
      this.socket.on('message', (data: Buffer) => {
        const frame = JSON.parse(String(data)) as Frame;
        if (frame.type === 'ready' && !this.#open) {
          this.#open = true;
          resolve(true);
        }
        this.#onFrame(frame, data.length);
      });
      this.socket.on('unexpected-response', (_request, response) => {
        bump(`http_${response.statusCode}`);
        this.socket.terminate();
      });
      this.socket.on('error', (error: NodeJS.ErrnoException) => {
        bump(`socket_${error.code ?? 'error'}`);
      });
      this.socket.on('close', (code) => {
        if (this.#open && !stopping) bump(`closed_${code}`);
        this.#open = false;
        this.#finish(false);
        resolve(false);
      });
    });
  }

  /** One chat, resolved when its turn ends (or fails, or the run stops). */
  runTurn(measured: boolean): Promise<void> {
    if (!this.#open) {
      bump('not_connected');
      tally.turnsFailed += 1;
      return Promise.resolve();
    }
    const content = `bench ${this.index} ${this.#turns}`;
    const requestId = `b${this.index}.${this.#turns}`;
    this.#turns += 1;
    return new Promise((resolve) => {
      this.#turn = {
        requestId,
        expected: benchText(content, config.chunks, config.chunkChars),
        sentAt: performance.now(),
        measured,
        frames: config.invariants ? [] : undefined,
        done: resolve,
        failed: false,
        text: '',
        firstAt: 0,
      };
      this.socket.send(JSON.stringify({ type: 'chat', content, requestId }));
    });
  }

  /** Ends the current turn as failed (the run stopped or the socket closed). */
  abandon(code: string): void {
    if (this.#turn) bump(code);
    this.#finish(false);
  }

  #onFrame(frame: Frame, bytes: number): void {
    const turn = this.#turn;
    if (turn?.measured) {
      tally.bytes += bytes;
      tally.frames += 1;
    }
    if (!turn) return;
    if (turn.frames && frame.turnId !== undefined) turn.frames.push(frame);
    switch (frame.type) {
      case 'token':
        if (turn.firstAt === 0) turn.firstAt = performance.now();
        turn.text += frame.text as string;
        if (turn.measured) tally.chunks += 1;
        return;
      case 'error':
        bump(String(frame.code));
        turn.failed = true;
        example(`turn ${turn.requestId}: ${JSON.stringify(frame).slice(0, 400)}`);
        // A refused chat has no turn (and no turn-end); an error inside a turn has both.
        if (frame.turnId === undefined && frame.requestId === turn.requestId) this.#finish(false);
        return;
      case 'turn-end':
        this.#check(turn, frame);
        this.#finish(true);
        return;
    }
  }

  #check(turn: Turn, end: Frame): void {
    const now = performance.now();
    const endText = typeof end.text === 'string' ? end.text : undefined;
    const mismatch = textMismatch(turn.expected, turn.text, endText);
    if (mismatch) {
      tally.textMismatches += 1;
      // A turn that failed with an error says so already; its missing text adds nothing.
      if (!turn.failed) example(`turn ${turn.requestId}: ${mismatch}`);
      turn.failed = true;
    }
    if (turn.frames && checkTurn) {
      try {
        checkTurn(turn.frames);
      } catch (error) {
        tally.invariantFailures += 1;
        turn.failed = true;
        example(`turn ${turn.requestId}: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    if (!turn.measured) return;
    tally.turnsDone += 1;
    tally.turnMs.push(now - turn.sentAt);
    if (turn.firstAt) tally.ttftMs.push(turn.firstAt - turn.sentAt);
  }

  /** The current turn is over: `ended` with its turn-end, or not. */
  #finish(ended: boolean): void {
    const turn = this.#turn;
    if (!turn) return;
    this.#turn = undefined;
    if (!ended || turn.failed) tally.turnsFailed += 1;
    else if (turn.measured) tally.turnsClean += 1;
    turn.done();
  }
}

let stopping = false;

/** Opens the sockets, at most CONNECT_CONCURRENCY handshakes at a time. */
async function connect(url: string, count: number): Promise<Client[]> {
  const clients: Client[] = [];
  let next = 0;
  const opener = async () => {
    while (next < count) {
      const client = new Client(next++, url);
      clients.push(client);
      await client.ready;
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, CONNECT_CONCURRENCY) }, opener));
  return clients.sort((a, b) => a.index - b.index);
}

/** Every client runs `turns` turns, one after another; resolves when all are over. */
async function phase(clients: Client[], turns: number, measured: boolean): Promise<void> {
  await Promise.all(
    clients.map(async (client) => {
      for (let i = 0; i < turns && !stopping; i++) await client.runTurn(measured);
    }),
  );
}

function result(connected: number, elapsedMs: number): LoadResult {
  return {
    clients: config.clients,
    connected,
    turnsPlanned: config.clients * config.turns,
    turnsCompleted: tally.turnsDone,
    turnsClean: tally.turnsClean,
    turnsFailed: tally.turnsFailed,
    elapsedMs,
    chunks: tally.chunks,
    bytes: tally.bytes,
    frames: tally.frames,
    ttftMs: tally.ttftMs,
    turnMs: tally.turnMs,
    errors: Object.fromEntries(tally.errors),
    textMismatches: tally.textMismatches,
    invariantFailures: tally.invariantFailures,
    examples: tally.examples,
  };
}

async function main(): Promise<void> {
  const { url } = await nextMessage('start');
  const clients = await connect(String(url), config.clients);
  const connected = clients.filter((client) => client.socket.readyState === WebSocket.OPEN);
  send({
    type: 'connected',
    connected: connected.length,
    errors: Object.fromEntries(tally.errors),
  });
  if (config.turns > 0) {
    const deadline = setTimeout(() => {
      stopping = true;
      for (const client of clients) client.abandon('timeout');
    }, config.timeoutMs);
    await phase(connected, config.warmup, false);
    send({ type: 'warm' });
    await nextMessage('go');
    clearTimeout(deadline);
    const stop = setTimeout(() => {
      stopping = true;
      for (const client of clients) client.abandon('timeout');
    }, config.timeoutMs);
    const progress = setInterval(
      () => send({ type: 'progress', turnsDone: tally.turnsDone }),
      5_000,
    );
    const startedAt = performance.now();
    await phase(connected, config.turns, true);
    const elapsedMs = performance.now() - startedAt;
    clearTimeout(stop);
    clearInterval(progress);
    send({ type: 'done', result: result(connected.length, elapsedMs) });
  }
  await nextMessage('exit');
  stopping = true;
  for (const client of clients) client.socket.terminate();
  process.exit(0);
}

process.on('disconnect', () => process.exit(0));
await main();
