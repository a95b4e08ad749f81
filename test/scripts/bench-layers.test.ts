import { expect, it } from 'vitest';
import { NpmScript } from '../helpers/npm-script.ts';

it('prints CPU per 1,000 chunks for each layer of a turn, from the SDK up', async () => {
  const npm = new NpmScript(['run', 'bench:layers', '--', '--chunks', '200', '--rounds', '1'], {});
  const { code } = await npm.exited;
  await npm.closed;
  expect(code, npm.output).toBe(0);
  const rows = [...npm.stdout.matchAll(/^(sdk|model|graph|turn)\s+([\d.]+)/gm)];
  expect(rows.map((r) => r[1])).toEqual(['sdk', 'model', 'graph', 'turn']);
  for (const [, , ms] of rows) expect(Number(ms)).toBeGreaterThan(0);
}, 120_000);

it('refuses a bad option in one line, with exit code 2', async () => {
  const npm = new NpmScript(['run', 'bench:layers', '--', '--rounds', 'many'], {});
  const { code } = await npm.exited;
  await npm.closed;
  expect(code).toBe(2);
  expect(npm.output).toContain('bench:layers: --rounds takes a whole number ≥ 1.');
});
