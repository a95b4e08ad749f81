/**
 * From raw measurements to figures: percentiles, per-1,000-chunk CPU, ratios to the floor,
 * the results table (Markdown, so it pastes into docs/performance.md) and the targets of
 * issue 11 met or missed.
 */
import type { LoadResult } from './loadgen.ts';
import type { SystemName } from './options.ts';

/** Nearest-rank percentile of the values (NaN when there are none). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

function percentiles(values: readonly number[]): Percentiles {
  const round = (v: number) => Number(v.toFixed(1));
  return {
    p50: round(percentile(values, 50)),
    p95: round(percentile(values, 95)),
    p99: round(percentile(values, 99)),
  };
}

/** CPU time in ms that processes used during the measured phase. */
export interface CpuUse {
  server: number;
  /** Redis's own (`INFO cpu`), for the redis system. */
  redis: number | undefined;
  emulator: number;
  loadgen: number;
}

/** One system's figures; the JSON carries exactly this. */
export interface SystemResult {
  system: SystemName;
  clients: number;
  turnsPlanned: number;
  turnsCompleted: number;
  /** Measured turns with no error, the exact text and (scale mode) every invariant. */
  turnsClean: number;
  /** Turns, the warm-up's too, that failed in any way (error, text, invariant, no end). */
  turnsFailed: number;
  chunks: number;
  elapsedS: number;
  /** Server CPU (utime+stime of its process trees) per 1,000 chunks received by clients. */
  cpuMsPer1kChunks: number;
  /** Redis's own CPU per 1,000 chunks (redis system), apart from the server's. */
  redisCpuMsPer1kChunks: number | undefined;
  emulatorCpuMsPer1kChunks: number;
  loadgenCpuMsPer1kChunks: number;
  ttftMs: Percentiles;
  turnMs: Percentiles;
  /** The sum of the server processes' peak resident memory (VmHWM). */
  peakRssMiB: number;
  /** Bytes of every frame clients received, per chunk. */
  bytesPerChunk: number;
  errors: number;
  errorsByCode: Record<string, number>;
  textMismatches: number;
  invariantFailures: number;
  examples: string[];
  /** To the floor (absent for the floor itself, or when it did not run). */
  ratio: { cpu: number; cpuWithRedis: number | undefined; ttftP99: number } | undefined;
}

const per1k = (ms: number, chunks: number) =>
  chunks > 0 ? Number(((ms * 1000) / chunks).toFixed(1)) : Number.NaN;

/** Turns measurements into a system's figures (ratios are added by {@link withRatios}). */
export function systemResult(
  system: SystemName,
  load: LoadResult,
  cpu: CpuUse,
  peakRssBytes: number,
): SystemResult {
  const errors = Object.values(load.errors).reduce((sum, n) => sum + n, 0);
  return {
    system,
    clients: load.clients,
    turnsPlanned: load.turnsPlanned,
    turnsCompleted: load.turnsCompleted,
    turnsClean: load.turnsClean,
    turnsFailed: load.turnsFailed,
    chunks: load.chunks,
    elapsedS: Number((load.elapsedMs / 1000).toFixed(2)),
    cpuMsPer1kChunks: per1k(cpu.server, load.chunks),
    redisCpuMsPer1kChunks: cpu.redis === undefined ? undefined : per1k(cpu.redis, load.chunks),
    emulatorCpuMsPer1kChunks: per1k(cpu.emulator, load.chunks),
    loadgenCpuMsPer1kChunks: per1k(cpu.loadgen, load.chunks),
    ttftMs: percentiles(load.ttftMs),
    turnMs: percentiles(load.turnMs),
    peakRssMiB: Number((peakRssBytes / 1024 / 1024).toFixed(1)),
    bytesPerChunk: load.chunks > 0 ? Number((load.bytes / load.chunks).toFixed(1)) : Number.NaN,
    errors,
    errorsByCode: load.errors,
    textMismatches: load.textMismatches,
    invariantFailures: load.invariantFailures,
    examples: load.examples,
    ratio: undefined,
  };
}

const ratio = (a: number, b: number) => Number((a / b).toFixed(2));

/** Each system's ratios to the floor, when the floor ran. */
export function withRatios(results: SystemResult[]): SystemResult[] {
  const floor = results.find((r) => r.system === 'floor');
  if (!floor) return results;
  return results.map((r) =>
    r === floor
      ? r
      : {
          ...r,
          ratio: {
            cpu: ratio(r.cpuMsPer1kChunks, floor.cpuMsPer1kChunks),
            cpuWithRedis:
              r.redisCpuMsPer1kChunks === undefined
                ? undefined
                : ratio(r.cpuMsPer1kChunks + r.redisCpuMsPer1kChunks, floor.cpuMsPer1kChunks),
            ttftP99: ratio(r.ttftMs.p99, floor.ttftMs.p99),
          },
        },
  );
}

const show = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits);

/** The results table, in Markdown. */
export function table(results: readonly SystemResult[]): string {
  const head = [
    'system',
    'C',
    'CPU ms/1k chunks',
    'ratio',
    'Redis CPU ms/1k',
    'TTFT p50 / p95 / p99 ms',
    'ratio p99',
    'turn p50 ms',
    'peak RSS MiB',
    'bytes/chunk',
    'errors',
    'text mismatches',
  ];
  const rows = results.map((r) => [
    r.system,
    String(r.clients),
    show(r.cpuMsPer1kChunks, 1),
    r.ratio ? `${show(r.ratio.cpu, 2)}×` : '—',
    show(r.redisCpuMsPer1kChunks, 1),
    `${show(r.ttftMs.p50)} / ${show(r.ttftMs.p95)} / ${show(r.ttftMs.p99)}`,
    r.ratio ? `${show(r.ratio.ttftP99, 2)}×` : '—',
    show(r.turnMs.p50),
    show(r.peakRssMiB, 1),
    show(r.bytesPerChunk, 1),
    String(r.errors),
    String(r.textMismatches),
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A target of issue 11 and whether this run met it. */
export interface Target {
  what: string;
  limit: number;
  value: number;
  met: boolean;
}

/** The targets that the systems run can be held to. */
export function targets(results: readonly SystemResult[]): Target[] {
  const found: Target[] = [];
  const add = (what: string, value: number | undefined, limit: number) => {
    if (value !== undefined && !Number.isNaN(value)) {
      found.push({ what, limit, value, met: value <= limit });
    }
  };
  for (const r of results) {
    if (!r.ratio) continue;
    add(
      `${r.system} CPU per 1k chunks ≤ ${r.system === 'redis' ? 2 : 1.5}× floor`,
      r.ratio.cpu,
      r.system === 'redis' ? 2 : 1.5,
    );
    add(`${r.system} TTFT p99 ≤ 1.5× floor`, r.ratio.ttftP99, 1.5);
  }
  return found;
}

/** The targets in words, one line each. */
export function targetLines(found: readonly Target[]): string[] {
  return found.map((t) => `${t.met ? 'met   ' : 'MISSED'}  ${t.what}: ${t.value.toFixed(2)}×`);
}
