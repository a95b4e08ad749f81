import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../scripts/loadtest/options.ts';
import { Progress } from '../../scripts/loadtest/progress.ts';
import { NpmScript } from '../helpers/npm-script.ts';

const OPTION_NAMES = Object.keys(OPTIONS);

describe('npm run loadtest', () => {
  it('prints its usage with every option for --help and exits 0', async () => {
    const npm = new NpmScript(['run', 'loadtest', '--', '--help'], {});
    expect((await npm.exited).code, npm.output).toBe(0);
    await npm.closed;
    expect(npm.stdout).toContain('Usage: npm run loadtest -- [options]');
    for (const name of OPTION_NAMES) expect(npm.stdout).toMatch(new RegExp(`--${name}\\b`));
    expect(npm.stderr).toBe('');
  });

  it('says in one line what is wrong with an unknown option and exits 2', async () => {
    const npm = new NpmScript(['run', 'loadtest', '--', '--clinets', '5'], {});
    expect((await npm.exited).code).toBe(2);
    await npm.closed;
    expect(npm.stderr.trim()).toBe(
      "loadtest: Unknown option '--clinets'. See npm run loadtest -- --help",
    );
  });

  it('has its options documented in docs/loadtest.md', () => {
    const doc = readFileSync(new URL('../../docs/loadtest.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `--([a-z-]+)`/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...OPTION_NAMES].sort());
  });
});

/** A stream that keeps what is written to it. */
function stream(isTTY: boolean, columns = 80) {
  const writes: string[] = [];
  return { isTTY, columns, writes, write: (text: string) => writes.push(text) };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the progress line', () => {
  it('is rewritten in place on a terminal, cut to its width, and cleared at the end', async () => {
    const tty = stream(true, 20);
    let n = 0;
    const progress = new Progress(tty, () => `turns ${++n} of many, many more`, 10);
    await tick(55);
    progress.stop();
    progress.stop();
    expect(tty.writes.length).toBeGreaterThanOrEqual(3);
    const CLEAR = '\x1b[K';
    for (const write of tty.writes.slice(0, -1)) {
      expect(write.startsWith('\r') && write.endsWith(CLEAR), JSON.stringify(write)).toBe(true);
      expect(write.length - 1 - CLEAR.length).toBeLessThan(20);
    }
    expect(tty.writes.join('')).not.toContain('\n');
    expect(tty.writes.at(-1)).toBe('\r\x1b[K');
  });

  it('is a whole line now and then elsewhere', async () => {
    const file = stream(false);
    const progress = new Progress(file, () => 'turns 3/10', 10);
    await tick(35);
    progress.stop();
    expect(file.writes.length).toBeGreaterThanOrEqual(2);
    expect(new Set(file.writes)).toEqual(new Set(['turns 3/10\n']));
  });
});
