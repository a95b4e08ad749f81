/**
 * `npm run bench -- [options]`: agentgate against the floor (a minimal relay of the same
 * Bedrock client) under the same load, one system after another, each with its own Bedrock
 * emulator and load generator processes; or, with `--scale`, many streaming sockets held to
 * every protocol invariant and then many idle ones. `--help` lists the options
 * (scripts/bench/options.ts); docs/performance.md says what is measured and how, and holds
 * the figures.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import type { BenchShape } from '../test/emulator/index.ts';
import { type Child, freePort, killAll, startScript } from './bench/children.ts';
import type { LoadResult } from './bench/loadgen.ts';
import { type Options, parseOptions, type SystemName, usage } from './bench/options.ts';
import {
  hasProc,
  openFilesLimit,
  treeCpuMs,
  treePeakRssBytes,
  treeRssBytes,
} from './bench/proc.ts';
import {
  type SystemResult,
  systemResult,
  table,
  targetLines,
  targets,
  withRatios,
} from './bench/report.ts';
import {
  type RunningEmulator,
  type RunningSystem,
  redisCpuMs,
  redisProblem,
  startBenchEmulator,
  startSystem,
} from './bench/systems.ts';
import { optionsOrExit } from './cli.ts';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** Turns a worker process runs at once (RedisJobQueue's concurrency). */
const WORKER_CONCURRENCY = 32;
/** Quiet time before and after a measured phase, so neither phase's tail is counted. */
const SETTLE_MS = 500;

const startedAt = performance.now();

/** A progress line on stderr, with the seconds since the start. */
function say(line: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  process.stderr.write(`bench ${seconds.padStart(6)} s: ${line}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** REDIS_URL without its password, for messages. */
function shownRedisUrl(): string {
  try {
    const url = new URL(REDIS_URL);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(REDIS_URL is not a URL)';
  }
}

function git(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Where and on what the run happened, for the JSON and docs/performance.md. */
function machine() {
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    commit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((v) => Number(v.toFixed(2))),
  };
}

interface LoadPlan {
  clients: number;
  warmup: number;
  turns: number;
  chunks: number;
  chunkChars: number;
  invariants: boolean;
  timeoutMs: number;
}

/** One measured phase against a started system: warm-up, CPU before, turns, CPU after. */
async function measure(label: string, started: Started, plan: LoadPlan): Promise<SystemResult> {
  const { system, emulator, loadgen } = started;
  loadgen.send({ type: 'start', url: system.wsUrl });
  const connected = await loadgen.next('connected', plan.timeoutMs);
  say(
    `${label}: ${connected.connected}/${plan.clients} sockets, warm-up (${plan.warmup} turn(s) each)`,
  );
  await loadgen.next('warm', plan.timeoutMs);
  await sleep(SETTLE_MS);
  const roots = system.servers.map((child) => child.pid);
  const cpu = async () => ({
    server: treeCpuMs(roots),
    emulator: treeCpuMs([emulator.child.pid]),
    loadgen: treeCpuMs([loadgen.pid]),
    redis: system.redis ? await redisCpuMs(system.redis) : undefined,
  });
  const before = await cpu();
  say(`${label}: measuring ${plan.clients} clients × ${plan.turns} turn(s)`);
  const progress = (message: { type?: string; turnsDone?: number }) => {
    if (message?.type === 'progress') {
      say(`${label}: ${message.turnsDone}/${plan.clients * plan.turns} turns`);
    }
  };
  loadgen.process.on('message', progress);
  loadgen.send({ type: 'go' });
  const done = await loadgen.next('done', plan.timeoutMs + 30_000);
  loadgen.process.off('message', progress);
  await sleep(SETTLE_MS);
  const after = await cpu();
  const load = done.result as LoadResult;
  const result = systemResult(
    system.name,
    load,
    {
      server: after.server - before.server,
      emulator: after.emulator - before.emulator,
      loadgen: after.loadgen - before.loadgen,
      redis:
        after.redis === undefined || before.redis === undefined
          ? undefined
          : after.redis - before.redis,
    },
    treePeakRssBytes(roots),
  );
  say(
    `${label}: ${load.turnsCompleted}/${load.turnsPlanned} turns in ${result.elapsedS} s, ${result.cpuMsPer1kChunks} CPU ms per 1k chunks`,
  );
  return result;
}

function workersFor(options: Options, clients: number): number {
  return options.workers ?? Math.max(1, Math.ceil(clients / WORKER_CONCURRENCY));
}

/** A system with its own emulator and load generator, all started. */
interface Started {
  system: RunningSystem;
  emulator: RunningEmulator;
  loadgen: Child;
}

async function stopEmulator(emulator: RunningEmulator): Promise<void> {
  emulator.child.send({ type: 'exit' });
  await emulator.child.stop(5_000);
}

/**
 * Starts an emulator, a system and a load generator side by side (`work` tells the load
 * generator the system's URL when it should connect), runs `work`, and stops them all
 * whatever happens.
 */
async function withSystem<T>(
  name: SystemName,
  shape: BenchShape,
  workers: number,
  plan: LoadPlan,
  work: (started: Started) => Promise<T>,
): Promise<T> {
  say(`${name}: starting`);
  const port = await freePort();
  const loadgen = startScript('loadgen', 'loadgen.ts', plan);
  const [emulator, system] = await Promise.allSettled([
    startBenchEmulator(shape, port),
    startSystem(name, `http://127.0.0.1:${port}`, { redisUrl: REDIS_URL, workers }),
  ]);
  try {
    if (emulator.status === 'rejected') throw emulator.reason;
    if (system.status === 'rejected') throw system.reason;
    return await work({ system: system.value, emulator: emulator.value, loadgen });
  } finally {
    loadgen.send({ type: 'exit' });
    await loadgen.stop(5_000);
    if (system.status === 'fulfilled') await system.value.stop();
    if (emulator.status === 'fulfilled') await stopEmulator(emulator.value);
  }
}

async function compare(options: Options): Promise<{ report: unknown; ok: boolean }> {
  const shape = {
    chunks: options.chunks,
    chunkChars: options.chunkChars,
    delayMs: options.chunkDelayMs,
    firstChunkMs: options.firstChunkMs,
  };
  const plan: LoadPlan = {
    clients: options.clients,
    warmup: options.warmup,
    turns: options.turns,
    chunks: options.chunks,
    chunkChars: options.chunkChars,
    invariants: false,
    timeoutMs: options.timeoutS * 1000,
  };
  const workers = workersFor(options, options.clients);
  const results: SystemResult[] = [];
  // A system that cannot be measured (it did not start, or its run broke) is reported, and
  // the others still run.
  const broken: { system: SystemName; error: string }[] = [];
  for (const name of options.systems) {
    try {
      results.push(
        await withSystem(name, shape, workers, plan, (started) => measure(name, started, plan)),
      );
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      say(`${name}: not measured: ${message}`);
      broken.push({ system: name, error: message });
    }
  }
  const final = withRatios(results);
  const met = targets(final);
  const conditions =
    `${options.clients} clients × ${options.turns} turns (after ${options.warmup} warm-up), ` +
    `a tool round trip per turn, ${options.chunks} chunks × ${options.chunkChars} chars, ` +
    `${options.chunkDelayMs} ms apart, ${options.firstChunkMs} ms to first chunk` +
    (options.systems.includes('redis') ? `, ${workers} worker(s)` : '');
  const info = machine();
  process.stdout.write(
    `\n${conditions}\n${info.date}, ${info.commit}, ${info.nproc} cores (${info.cpuModel}), Node ${info.node}\n\n${table(final)}\n`,
  );
  if (met.length > 0)
    process.stdout.write(`\nTargets (issue 11):\n  ${targetLines(met).join('\n  ')}\n`);
  for (const r of final) {
    for (const example of r.examples) process.stdout.write(`${r.system}: ${example}\n`);
  }
  for (const { system, error } of broken) {
    process.stdout.write(`${system}: not measured: ${error.split('\n')[0]}\n`);
  }
  const ok =
    broken.length === 0 &&
    final.every((r) => r.errors === 0 && r.turnsFailed === 0 && r.turnsClean === r.turnsPlanned);
  const report = {
    mode: 'compare',
    ...info,
    conditions: {
      ...shape,
      clients: options.clients,
      turns: options.turns,
      warmup: options.warmup,
      workers,
    },
    systems: final,
    notMeasured: broken,
    targets: met,
    ok,
  };
  return { report, ok };
}

/** Waits until the server trees' RSS has not grown for a second (at most 10 s). */
async function settledRss(roots: number[]): Promise<number> {
  let last = treeRssBytes(roots);
  for (let i = 0; i < 10; i++) {
    await sleep(1_000);
    const now = treeRssBytes(roots);
    if (now <= last) return now;
    last = now;
  }
  return last;
}

async function scale(options: Options): Promise<{ report: unknown; ok: boolean }> {
  const name = options.scaleSystem;
  const sockets = options.scaleSockets;
  const shape = {
    chunks: options.scaleChunks,
    chunkChars: options.chunkChars,
    delayMs: options.scaleChunkDelayMs,
    firstChunkMs: options.firstChunkMs,
  };
  const timeoutMs = options.timeoutS * 1000;
  const streamingPlan: LoadPlan = {
    clients: sockets,
    warmup: 0,
    turns: 1,
    chunks: shape.chunks,
    chunkChars: shape.chunkChars,
    invariants: true,
    timeoutMs,
  };
  const s = await withSystem(name, shape, workersFor(options, sockets), streamingPlan, (started) =>
    measure(`${name} streaming`, started, streamingPlan),
  );
  const idlePlan: LoadPlan = { ...streamingPlan, clients: options.idleSockets, turns: 0 };
  const idle = await withSystem(name, shape, 1, idlePlan, async ({ system, loadgen }) => {
    const roots = system.servers.map((child) => child.pid);
    const before = await settledRss(roots);
    say(`${name} idle: opening ${options.idleSockets} sockets`);
    loadgen.send({ type: 'start', url: system.wsUrl });
    const connected = await loadgen.next('connected', timeoutMs);
    const after = await settledRss(roots);
    const opened = Number(connected.connected);
    say(`${name} idle: ${opened} sockets open`);
    return {
      sockets: options.idleSockets,
      connected: opened,
      errors: connected.errors as Record<string, number>,
      rssBeforeMiB: Number((before / 1024 / 1024).toFixed(1)),
      rssAfterMiB: Number((after / 1024 / 1024).toFixed(1)),
      rssPerSocketKB:
        opened > 0 ? Number(((after - before) / opened / 1024).toFixed(1)) : Number.NaN,
    };
  });

  const failures = s.turnsPlanned - s.turnsClean;
  const info = machine();
  const streamS = ((shape.chunks + 3) * shape.delayMs + 2 * shape.firstChunkMs) / 1000;
  process.stdout.write(
    [
      '',
      `Scale mode, ${name}: ${info.date}, ${info.commit}, ${info.nproc} cores (${info.cpuModel}), Node ${info.node}`,
      '',
      `streaming: ${sockets} sockets at once, one turn each: a tool round trip, then ${shape.chunks} chunks ${shape.delayMs} ms apart (about ${(1000 / Math.max(1, shape.delayMs)).toFixed(0)} a second, ${streamS.toFixed(1)} s of model time)`,
      `  turns clean          ${s.turnsClean}/${s.turnsPlanned} (${s.turnsCompleted} ended)`,
      `  invariant failures   ${s.invariantFailures}`,
      `  text mismatches      ${s.textMismatches}`,
      `  errors               ${s.errors ? JSON.stringify(s.errorsByCode) : 'none'}`,
      `  TTFT p50/p95/p99     ${s.ttftMs.p50} / ${s.ttftMs.p95} / ${s.ttftMs.p99} ms`,
      `  turn p50/p95/p99     ${s.turnMs.p50} / ${s.turnMs.p95} / ${s.turnMs.p99} ms`,
      `  CPU per 1k chunks    ${s.cpuMsPer1kChunks} ms${s.redisCpuMsPer1kChunks === undefined ? '' : ` (+ Redis ${s.redisCpuMsPer1kChunks} ms)`}`,
      `  peak RSS             ${s.peakRssMiB} MiB`,
      `idle: ${idle.connected}/${idle.sockets} sockets open`,
      `  RSS                  ${idle.rssBeforeMiB} → ${idle.rssAfterMiB} MiB: ${idle.rssPerSocketKB} KB per socket`,
      '',
      'Targets (issue 11):',
      `  ${failures === 0 ? 'met   ' : 'MISSED'}  ${sockets} concurrent streaming chats, no turn failing: ${failures} failing`,
      `  ${idle.rssPerSocketKB <= 50 ? 'met   ' : 'MISSED'}  idle socket ≤ 50 KB RSS: ${idle.rssPerSocketKB} KB`,
      ...s.examples.map((example) => `${name}: ${example}`),
      '',
    ].join('\n'),
  );
  const ok = failures === 0 && idle.connected === idle.sockets;
  const report = {
    mode: 'scale',
    ...info,
    system: name,
    streaming: { sockets, ...shape, ...s },
    idle,
    ok,
  };
  return { report, ok };
}

async function main(): Promise<void> {
  const options = optionsOrExit('bench', parseOptions, usage);
  if (!hasProc()) {
    say('needs Linux: it reads CPU time and memory from /proc.');
    process.exit(1);
  }
  // Each idle socket is a file in the load generator and another in the server.
  const files = openFilesLimit();
  const needed = options.idleSockets + 1_000;
  if (options.scale && files !== undefined && files < needed) {
    say(
      `${options.idleSockets} idle sockets need at least ${needed} open files per process, and the limit here is ${files}.\n` +
        `  Raise it (ulimit -n ${needed}) or open fewer: --idle-sockets ${Math.max(1, files - 1_000)}`,
    );
    process.exit(1);
  }
  const usesRedis = options.scale
    ? options.scaleSystem === 'redis'
    : options.systems.includes('redis');
  if (usesRedis) {
    const problem = await redisProblem(REDIS_URL);
    if (problem) {
      const skip = options.scale
        ? 'or scale the embedded system: npm run bench -- --scale --scale-system embedded'
        : 'or leave the system out: npm run bench -- --systems floor,embedded';
      say(
        `the redis system needs Redis at ${shownRedisUrl()} (REDIS_URL), which does not answer: ${problem}.\n` +
          `  Start Redis, point REDIS_URL at one, ${skip}`,
      );
      process.exit(1);
    }
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }
  const { report, ok } = options.scale ? await scale(options) : await compare(options);
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    say(`results written to ${options.json}`);
  }
  process.exitCode = ok ? 0 : 1;
}

process.on('exit', killAll);
try {
  await main();
} catch (error) {
  say(error instanceof Error ? error.message : String(error));
  killAll();
  process.exitCode = 1;
}
