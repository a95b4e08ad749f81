import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const read = (file: string) =>
  JSON.parse(readFileSync(new URL(`../${file}`, import.meta.url), 'utf8'));

describe('Node.js versions', () => {
  const ours: string = read('package.json').engines.node;
  const oldest = semver.minVersion(ours)?.version;
  const locked: Record<string, { engines?: unknown }> = read('package-lock.json').packages;

  it('declares a lowest Node.js version that runs every package', () => {
    expect(oldest).toBeDefined();
    expect(semver.satisfies(process.version, ours), `Node ${process.version} within ${ours}`).toBe(
      true,
    );
  });

  // npm ci warns EBADENGINE for each package whose engines refuse the running Node: every
  // locked package must accept the oldest Node we declare and the one running the tests.
  it('locks only packages whose engines accept that version and this one', () => {
    const refusing = Object.entries(locked).flatMap(([name, entry]) => {
      const range = (entry.engines as { node?: string } | undefined)?.node;
      if (!name || typeof range !== 'string') return [];
      const accepts = [oldest!, process.version].every((v) => semver.satisfies(v, range));
      return accepts ? [] : [`${name.replace(/^.*node_modules\//, '')} needs node ${range}`];
    });
    expect(refusing).toEqual([]);
  });
});
