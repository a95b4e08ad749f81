import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTIONS, parseOptions } from '../../scripts/bench/options.ts';
import { targets, withRatios } from '../../scripts/bench/report.ts';
import { difference, textMismatch } from '../../scripts/bench/text-check.ts';
import { UsageError } from '../../scripts/cli.ts';
import { benchText } from '../emulator/index.ts';
import { readDoc, repoRoot, tableRows } from '../helpers/docs.ts';
import { closedPort } from '../helpers/env.ts';
import { NpmScript, npmEnv } from '../helpers/npm-script.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `npm run bench -- <args>` to its end, with its JSON when asked for one. */
async function bench(args: string[], env: Record<string, string> = { REDIS_URL }) {
  const npm = new NpmScript(['run', 'bench', '--', ...args], env);
  const { code } = await npm.exited;
  await npm.closed;
  return { code, npm };
}

function jsonFile(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'agentgate-bench-test-')), 'out.json');
}

describe('the text check', () => {
  const expected = benchText('bench 3 1', 20, 4);
  const chunks = expected.match(/.{4}/g) ?? [];

  it('passes the exact text, in tokens and in turn-end.text alike', () => {
    expect(textMismatch(expected, chunks.join(''), expected)).toBeUndefined();
    expect(textMismatch(expected, chunks.join(''), undefined)).toBeUndefined();
  });

  it('fails a chunk lost, doubled, swapped or altered', () => {
    const lost = [...chunks.slice(0, 7), ...chunks.slice(8)].join('');
    const doubled = [...chunks.slice(0, 8), chunks[7], ...chunks.slice(8)].join('');
    const swapped = [...chunks.slice(0, 7), chunks[8], chunks[7], ...chunks.slice(9)].join('');
    const altered = `${expected.slice(0, 40)}X${expected.slice(41)}`;
    expect(textMismatch(expected, lost, undefined)).toMatch(/^tokens: 76 characters instead of 80/);
    expect(textMismatch(expected, doubled, undefined)).toMatch(/84 characters instead of 80/);
    expect(textMismatch(expected, swapped, undefined)).toMatch(
      /80 characters as expected, first difference at 28/,
    );
    expect(textMismatch(expected, altered, undefined)).toMatch(/first difference at 40/);
    expect(textMismatch(expected, '', undefined)).toMatch(/0 characters instead of 80/);
  });

  it('fails a turn-end.text that differs from the tokens', () => {
    expect(textMismatch(expected, expected, expected.slice(1))).toMatch(/^turn-end\.text: /);
  });

  it('shows where the texts part', () => {
    expect(difference('abcdef', 'abXdef')).toBe(
      '6 characters as expected, first difference at 2: expected …"abcdef"…, got …"abXdef"…',
    );
  });
});

describe('the options', () => {
  it('default to the reference conditions', () => {
    const options = parseOptions([]);
    expect(options).toMatchObject({
      systems: ['floor', 'embedded', 'redis'],
      clients: 100,
      turns: 3,
      warmup: 1,
      chunks: 200,
      chunkChars: 4,
      chunkDelayMs: 5,
      firstChunkMs: 50,
      scaleSockets: 1000,
      idleSockets: 10_000,
      quick: false,
      scale: false,
    });
  });

  it('are small with --quick, unless given', () => {
    expect(parseOptions(['--quick'])).toMatchObject({ clients: 3, turns: 1, chunks: 20 });
    expect(parseOptions(['--quick', '--clients', '7'])).toMatchObject({ clients: 7, turns: 1 });
  });

  it('run the systems in the reference order and refuse unknown ones', () => {
    expect(parseOptions(['--systems', 'embedded,floor'])).toMatchObject({
      systems: ['floor', 'embedded'],
    });
    expect(() => parseOptions(['--systems', 'floor,nginx'])).toThrow(
      new UsageError('--systems takes floor, embedded, redis; "nginx" is none of them.'),
    );
    expect(() => parseOptions(['--clients', '0'])).toThrow(/--clients must be a whole number/);
  });
});

describe('the targets', () => {
  it('are held against the floor: a system over its ratio misses', () => {
    const base = {
      clients: 1,
      turnsPlanned: 1,
      turnsCompleted: 1,
      turnsClean: 1,
      turnsFailed: 0,
      chunks: 1000,
      elapsedS: 1,
      emulatorCpuMsPer1kChunks: 1,
      loadgenCpuMsPer1kChunks: 1,
      turnMs: { p50: 1, p95: 1, p99: 1 },
      peakRssMiB: 1,
      bytesPerChunk: 1,
      errors: 0,
      errorsByCode: {},
      textMismatches: 0,
      invariantFailures: 0,
      examples: [],
      ratio: undefined,
      redisCpuMsPer1kChunks: undefined,
    };
    const results = withRatios([
      { ...base, system: 'floor', cpuMsPer1kChunks: 100, ttftMs: { p50: 1, p95: 1, p99: 100 } },
      { ...base, system: 'embedded', cpuMsPer1kChunks: 151, ttftMs: { p50: 1, p95: 1, p99: 150 } },
      {
        ...base,
        system: 'redis',
        cpuMsPer1kChunks: 200,
        redisCpuMsPer1kChunks: 50,
        ttftMs: { p50: 1, p95: 1, p99: 90 },
      },
    ]);
    expect(results[2]!.ratio).toEqual({ cpu: 2, cpuWithRedis: 2.5, ttftP99: 0.9 });
    expect(targets(results).map((t) => [t.what, t.met])).toEqual([
      ['embedded CPU per 1k chunks ≤ 1.5× floor', false],
      ['embedded TTFT p99 ≤ 1.5× floor', true],
      ['redis CPU per 1k chunks ≤ 2× floor', true],
      ['redis TTFT p99 ≤ 1.5× floor', true],
    ]);
  });
});

describe('docs/performance.md', () => {
  it('lists every option with its default', () => {
    const rows = tableRows(readDoc('performance.md'), ['option', 'default', 'meaning']);
    const documented = new Map(rows.map(([option, value]) => [option, value]));
    expect([...documented.keys()].sort()).toEqual(
      Object.keys(OPTIONS)
        .map((name) => `\`--${name}\``)
        .sort(),
    );
    for (const [name, spec] of Object.entries(OPTIONS)) {
      if ('default' in spec)
        expect(documented.get(`\`--${name}\``), name).toBe(`\`${spec.default}\``);
    }
  });
});

describe('npm run bench', () => {
  it('prints its usage with every option and the reference defaults for --help', async () => {
    const { code, npm } = await bench(['--help']);
    expect(code, npm.output).toBe(0);
    expect(npm.stdout).toContain('Usage: npm run bench -- [options]');
    for (const name of Object.keys(OPTIONS)) expect(npm.stdout).toMatch(new RegExp(`--${name}\\b`));
    expect(npm.stdout).toMatch(/--clients <n> +.*\(default 100\)/);
    expect(npm.stdout).toMatch(/--chunks <n> +.*\(default 200\)/);
    expect(npm.stderr).toBe('');
  });

  it('says in one line what is wrong with an unknown option and exits 2', async () => {
    const { code, npm } = await bench(['--client', '5']);
    expect(code).toBe(2);
    expect(npm.stderr.trim()).toBe("bench: Unknown option '--client'. See npm run bench -- --help");
  });

  it('fails at once, saying how to skip it, when the redis system has no Redis', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { code, npm } = await bench(['--quick'], { REDIS_URL: url });
    expect(code, npm.output).toBe(1);
    expect(npm.stderr).toContain(`the redis system needs Redis at ${url}`);
    expect(npm.stderr).toContain('npm run bench -- --systems floor,embedded');
    expect(npm.stderr).not.toContain('starting');
  });

  it('says how to raise the open-files limit when it is below the idle sockets asked for', () => {
    const run = spawnSync(
      'sh',
      ['-c', 'ulimit -n 512 && exec node --import tsx scripts/bench.ts --scale --idle-sockets 600'],
      { cwd: repoRoot, encoding: 'utf8', env: npmEnv({ REDIS_URL }) },
    );
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr).toContain(
      '600 idle sockets need at least 1600 open files per process, and the limit here is 512.',
    );
    expect(run.stderr).toContain('Raise it (ulimit -n 1600)');
  });

  it('runs --quick end to end for floor, embedded and redis: sane figures, every text exact', async () => {
    const file = jsonFile();
    const { code, npm } = await bench(['--quick', '--json', file]);
    expect(code, npm.output).toBe(0);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report).toMatchObject({ mode: 'compare', ok: true, nproc: expect.any(Number) });
    expect(report.systems.map((s: { system: string }) => s.system)).toEqual([
      'floor',
      'embedded',
      'redis',
    ]);
    for (const s of report.systems) {
      expect(s, s.system).toMatchObject({
        clients: 3,
        turnsPlanned: 3,
        turnsCompleted: 3,
        turnsClean: 3,
        turnsFailed: 0,
        chunks: 3 * 20,
        errors: 0,
        textMismatches: 0,
      });
      expect(s.cpuMsPer1kChunks, s.system).toBeGreaterThan(0);
      expect(s.ttftMs.p50, s.system).toBeGreaterThan(100); // two model calls of 50 ms first
      expect(s.ttftMs.p99).toBeGreaterThanOrEqual(s.ttftMs.p50);
      expect(s.turnMs.p50).toBeGreaterThan(s.ttftMs.p50);
      expect(s.peakRssMiB, s.system).toBeGreaterThan(30);
      // A token frame is at least {"type":"token","text":"abcd"}.
      expect(s.bytesPerChunk, s.system).toBeGreaterThanOrEqual(30);
      expect(s.redisCpuMsPer1kChunks === undefined, s.system).toBe(s.system !== 'redis');
      expect(s.ratio === undefined, s.system).toBe(s.system === 'floor');
    }
    expect(npm.stdout).toMatch(/^\| floor \| 3 \|/m);
    expect(npm.stdout).toMatch(/^\| redis \| 3 \|/m);
  }, 300_000);

  it('runs --scale with every streaming turn held to the invariants and idle sockets measured', async () => {
    const file = jsonFile();
    const args = ['--scale', '--quick', '--scale-sockets', '5', '--idle-sockets', '50'];
    const { code, npm } = await bench([...args, '--json', file]);
    expect(code, npm.output).toBe(0);
    const report = JSON.parse(readFileSync(file, 'utf8'));
    expect(report).toMatchObject({
      mode: 'scale',
      ok: true,
      streaming: {
        turnsClean: 5,
        turnsFailed: 0,
        invariantFailures: 0,
        textMismatches: 0,
        errors: 0,
      },
      idle: { sockets: 50, connected: 50 },
    });
    expect(report.idle.rssPerSocketKB).toEqual(expect.any(Number));
  }, 300_000);
});
