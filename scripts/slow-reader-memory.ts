/**
 * Measures the gateway's memory around a client that stops reading during a huge answer:
 *
 *   node --expose-gc --import tsx scripts/slow-reader-memory.ts \
 *     [--mib 24] [--chunk 512] [--idle 30] [--no-warm-up] [--snapshot heap.heapsnapshot]
 *
 * The gateway (embedded: in-memory state, worker in process) runs in this process; the
 * Bedrock emulator and the client, which stops reading once connected, run in a child
 * process, so the figures are the gateway's alone. The answer is `--mib` MiB of text in
 * deltas of `--chunk` characters. Prints RSS and heap before the turn, at its peak, once the
 * turn is over and the client gone, and after `--idle` seconds. A small turn runs first
 * (unless --no-warm-up), so that code compiled once and the model connection do not count.
 * `--snapshot` writes a heap snapshot once the turn is over, for the browser's dev tools.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import type net from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/logger.ts';
import { startEmulator } from '../test/emulator/index.ts';

const { values: args } = parseArgs({
  options: {
    mib: { type: 'string', default: '24' },
    chunk: { type: 'string', default: '512' },
    idle: { type: 'string', default: '30' },
    'no-warm-up': { type: 'boolean', default: false },
    snapshot: { type: 'string' },
    child: { type: 'boolean', default: false },
  },
});
const answerMiB = Number(args.mib);
const chunkChars = Number(args.chunk);
const idleSeconds = Number(args.idle);
const warmUp = !args['no-warm-up'];
const MiB = 1024 * 1024;

interface Sample {
  rss: number;
  heapUsed: number;
  external: number;
}

/** Emulator and the client that stops reading; talks to the parent in JSON lines. */
async function child(): Promise<void> {
  const emulator = await startEmulator({ paceMs: 0 });
  const sentence = 'The quick brown fox jumps over the lazy dog. ';
  const text = sentence.repeat(Math.ceil((answerMiB * MiB) / sentence.length));
  if (warmUp) emulator.enqueue({ blocks: [{ text: 'Warm.' }] });
  emulator.enqueue({ blocks: [{ text }], chunkChars });
  console.log(JSON.stringify({ emulator: emulator.url }));
  const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  const wsUrl = (await lines.next()).value as string;
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve) => ws.once('open', resolve));
  // Stop reading: what the gateway sends piles up in the kernel, then in the gateway.
  (ws as unknown as { _socket: net.Socket })._socket.pause();
  ws.send(JSON.stringify({ type: 'chat', content: 'Say a lot.' }));
  // A paused socket never reads the close, nor sees the connection go: it stays as it is.
}

/** A small turn by a client that reads everything. */
async function warmUpTurn(wsUrl: string): Promise<void> {
  const warm = new WebSocket(wsUrl);
  warm.on('message', (data) => {
    if (String(data).includes('"turn-end"')) warm.close();
  });
  warm.once('open', () => warm.send(JSON.stringify({ type: 'chat', content: 'Warm up.' })));
  await new Promise((resolve) => warm.once('close', resolve));
}

function sample(): Sample {
  const { rss, heapUsed, external } = process.memoryUsage();
  return { rss, heapUsed, external };
}

function collect(): Sample {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('Run with node --expose-gc.');
  gc();
  gc();
  return sample();
}

function show(label: string, s: Sample): void {
  const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`.padStart(8);
  console.log(
    `${label.padEnd(24)} rss ${mib(s.rss)}  heap ${mib(s.heapUsed)}  external ${mib(s.external)}`,
  );
}

async function main(): Promise<void> {
  const kid: ChildProcess = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--child', ...process.argv.slice(2)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const messages = createInterface({ input: kid.stdout! })[Symbol.asyncIterator]();
  const { emulator } = JSON.parse((await messages.next()).value as string);

  const config = loadConfig({
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator,
    AWS_ACCESS_KEY_ID: 'AKIDMEMORY',
    AWS_SECRET_ACCESS_KEY: 'memory-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    BEDROCK_MAX_ATTEMPTS: '1',
    PORT: '0',
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, createLogger(config));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  const wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
  const turnsEnded = async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const counts = [...text.matchAll(/^agentgate_turns_total\{[^}]*\} (\d+)/gm)];
    return counts.reduce((sum, m) => sum + Number(m[1]), 0);
  };

  if (warmUp) await warmUpTurn(wsUrl);
  while ((await turnsEnded()) < (warmUp ? 1 : 0)) await sleep(100);
  const turnsBefore = await turnsEnded();
  console.log(`answer ${answerMiB} MiB in deltas of ${chunkChars} characters`);
  const before = collect();
  show('before', before);

  let peak = before;
  const sampler = setInterval(() => {
    const now = sample();
    if (now.rss > peak.rss) peak = now;
  }, 100);
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  kid.stdin!.write(`${wsUrl}\n`);
  let closing: string | undefined;
  let gone: string | undefined;
  let over: string | undefined;
  while (!gone || !over) {
    await sleep(250);
    const sockets = [...app.websocketServer.clients];
    if (!closing && sockets.some((s) => s.readyState !== WebSocket.OPEN)) closing = elapsed();
    if (closing && !gone && sockets.length === 0) gone = elapsed();
    if (!over && (await turnsEnded()) > turnsBefore) over = elapsed();
  }
  clearInterval(sampler);
  console.log(`client closing at ${closing}, gone at ${gone}; turn over at ${over}`);
  show('peak', peak);
  show('after, no gc', sample());
  show('after, gc', collect());
  if (args.snapshot) console.log(`heap snapshot: ${writeHeapSnapshot(args.snapshot)}`);
  await sleep(idleSeconds * 1000);
  show(`after ${idleSeconds} s idle, no gc`, sample());
  show(`after ${idleSeconds} s idle, gc`, collect());
  kid.kill();
  await app.close();
}

if (args.child) await child();
else await main();
