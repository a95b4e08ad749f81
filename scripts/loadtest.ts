/**
 * `npm run loadtest -- [options]`: N WebSocket clients (agentgate/client), each chatting M
 * turns one after another in its own conversation, against a running gateway. `--help` lists the options
 * (scripts/loadtest/options.ts); docs/loadtest.md has the figures.
 */
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { AgentgateError, Client, type CloseInfo } from '../src/client/index.ts';
import { optionsOrExit } from './cli.ts';
import { type Options, parseOptions, usage } from './loadtest/options.ts';
import { Progress } from './loadtest/progress.ts';

const PROMPTS = ['hello there', 'what is (12+30)*2?', 'what time is it in Tokyo?'];

/** What every client adds to; read by the progress line and once at the end. */
interface Tally {
  turnsDone: number;
  /** Chats sent whose turn has not ended yet. */
  running: number;
  ttftMs: number[];
  turnMs: number[];
  frames: number;
  errors: Map<string, number>;
  connected: number;
}

/** Resident memory of a process in bytes, or undefined once it cannot be read. */
function rssOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // No /proc (macOS): ask ps below.
  }
  try {
    const kb = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function bump(errors: Map<string, number>, code: string): void {
  errors.set(code, (errors.get(code) ?? 0) + 1);
}

/** The error code a socket that ended on its own counts under. */
function closeCode(close: CloseInfo): string {
  const cause = close.cause as { code?: unknown } | undefined;
  if (typeof cause?.code === 'string') return `socket_${cause.code}`;
  if (close.status !== undefined) return `http_${close.status}`;
  return `closed_${close.code}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One client (agentgate/client, without reconnecting): connects, chats its turns in its own
 * conversation, one after another; a refused chat counts as an error and uses up that turn.
 * Resolves when done, stopped, or its socket is gone.
 */
async function runClient(
  index: number,
  options: Options,
  tally: Tally,
  stopped: AbortSignal,
): Promise<void> {
  const client = new Client({
    url: options.url,
    ...(options.token ? { token: options.token } : {}),
    WebSocket,
    reconnect: false,
  });
  let running = false;
  let finished = false;
  /** The current chat is over, answered or not. */
  const settle = () => {
    if (!running) return;
    running = false;
    tally.running -= 1;
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    settle();
    stopped.removeEventListener('abort', onStop);
    void client.close();
  };
  const onStop = () => {
    if (running) bump(tally.errors, 'timeout');
    finish();
  };
  stopped.addEventListener('abort', onStop);
  client.on('frame', (frame) => {
    if (frame.type === 'pong') return;
    tally.frames += 1;
    // Every error counts: a refused chat, one inside a turn, a refused socket's.
    if (frame.type === 'error') bump(tally.errors, frame.code);
  });
  client.on('state', (change) => {
    if (change.state === 'closed' && change.close && !finished) {
      bump(tally.errors, closeCode(change.close));
      finish();
    }
  });

  try {
    await client.opened;
  } catch {
    return finish(); // counted by the state listener
  }
  if (finished) return;
  tally.connected += 1;
  for (let turn = 0; turn < options.turns && !finished; turn++) {
    const content = PROMPTS[(index + turn) % PROMPTS.length]!;
    const sentAt = performance.now();
    running = true;
    tally.running += 1;
    const chat = client.chat(content);
    let firstTokenSeen = false;
    try {
      for await (const frame of chat) {
        if (frame.type === 'token' && !firstTokenSeen) {
          firstTokenSeen = true;
          tally.ttftMs.push(performance.now() - sentAt);
        }
      }
      tally.turnsDone += 1;
      tally.turnMs.push(performance.now() - sentAt);
      settle();
    } catch (error) {
      // A refused chat (counted by the frame listener) ends this attempt; a closed socket
      // ends the client (counted by the state listener).
      settle();
      if (finished || (error instanceof AgentgateError && error.code === 'connection_closed')) {
        break;
      }
      await sleep(100);
    }
  }
  finish();
}

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const ms = (value: number) => (Number.isNaN(value) ? 'n/a' : `${value.toFixed(1)} ms`);
const mib = (bytes: number | undefined) =>
  bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** One line on how the run is going, for the progress display. */
function progressLine(options: Options, tally: Tally, startedAt: number): string {
  const seconds = (performance.now() - startedAt) / 1000;
  const planned = options.clients * options.turns;
  const errors = [...tally.errors].map(([code, n]) => `${code} ${n}`).join(', ') || 'none';
  return `loadtest ${seconds.toFixed(1)} s: ${tally.connected}/${options.clients} connected, ${tally.turnsDone}/${planned} turns (${(tally.turnsDone / seconds).toFixed(1)}/s), ${tally.running} running, errors: ${errors}`;
}

async function main(): Promise<void> {
  const options = optionsOrExit('loadtest', parseOptions, usage);
  const tally: Tally = {
    turnsDone: 0,
    running: 0,
    ttftMs: [],
    turnMs: [],
    frames: 0,
    errors: new Map(),
    connected: 0,
  };
  const rss: number[] = [];
  const sample = () => {
    const value = options.pid === undefined ? undefined : rssOf(options.pid);
    if (value !== undefined) rss.push(value);
  };
  sample();
  const sampler = options.pid === undefined ? undefined : setInterval(sample, 250);
  const stop = new AbortController();
  setMaxListeners(options.clients + 10, stop.signal);
  const deadline = setTimeout(() => stop.abort(), options.durationS * 1000);
  process.once('SIGINT', () => stop.abort());

  process.stderr.write(
    `loadtest: ${options.clients} clients × ${options.turns} turns against ${options.url} (stop after ${options.durationS} s)\n`,
  );
  const startedAt = performance.now();
  const progress = new Progress(process.stderr, () => progressLine(options, tally, startedAt));
  await Promise.all(
    Array.from({ length: options.clients }, (_, i) => runClient(i, options, tally, stop.signal)),
  );
  const endedAt = performance.now();
  progress.stop();
  clearTimeout(deadline);
  if (sampler) clearInterval(sampler);
  sample();

  const seconds = (endedAt - startedAt) / 1000;
  const ttft = [...tally.ttftMs].sort((a, b) => a - b);
  const turns = [...tally.turnMs].sort((a, b) => a - b);
  const summary = {
    url: String(options.url),
    clients: options.clients,
    connected: tally.connected,
    turnsPlanned: options.clients * options.turns,
    turnsCompleted: tally.turnsDone,
    elapsedS: Number(seconds.toFixed(2)),
    turnsPerS: Number((tally.turnsDone / seconds).toFixed(2)),
    framesPerS: Number((tally.frames / seconds).toFixed(1)),
    ttftMs: { p50: percentile(ttft, 50), p95: percentile(ttft, 95), p99: percentile(ttft, 99) },
    turnMs: { p50: percentile(turns, 50), p99: percentile(turns, 99) },
    errors: Object.fromEntries([...tally.errors].sort((a, b) => b[1] - a[1])),
    gatewayRssBytes:
      options.pid === undefined
        ? undefined
        : { start: rss[0], peak: rss.length ? Math.max(...rss) : undefined, end: rss.at(-1) },
  };
  if (options.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    const errors = Object.entries(summary.errors);
    const lines = [
      `clients           ${summary.connected}/${summary.clients} connected`,
      `turns             ${summary.turnsCompleted}/${summary.turnsPlanned} completed in ${summary.elapsedS} s`,
      `turns/s           ${summary.turnsPerS}`,
      `frames/s          ${summary.framesPerS} (${tally.frames} frames)`,
      `first token       p50 ${ms(summary.ttftMs.p50)}  p95 ${ms(summary.ttftMs.p95)}  p99 ${ms(summary.ttftMs.p99)}`,
      `turn duration     p50 ${ms(summary.turnMs.p50)}  p99 ${ms(summary.turnMs.p99)}`,
      `errors            ${errors.length ? errors.map(([code, n]) => `${code} ${n}`).join(', ') : 'none'}`,
    ];
    if (summary.gatewayRssBytes) {
      const { start, peak, end } = summary.gatewayRssBytes;
      lines.push(`gateway RSS       start ${mib(start)}  peak ${mib(peak)}  end ${mib(end)}`);
    }
    if (tally.errors.has('rate_limited')) {
      lines.push(
        '',
        'rate_limited: the gateway refused sockets or chats over its per-user limits. With auth off',
        'every client is one user: raise MAX_SOCKETS_PER_USER and MAX_TURNS_PER_USER above --clients',
        '(npm run demo does), or give --token a key of a user with room. A refused socket is then',
        'closed with 1013, so it counts under closed_1013 too.',
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  process.exitCode = tally.turnsDone === options.clients * options.turns ? 0 : 1;
}

await main();
