import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/docs.ts';

// A clone has only what git tracks: nothing may read or cite the contract documents the
// project grew from, which live outside the checkout. The repo's own are docs/*.md. The
// character classes keep this file from matching its own patterns.
const FORBIDDEN = [
  /sh[a]red\/(PROTOCOL|DESIGN|STYLE|seed)/i,
  /\.\.\/sh[a]red\b/,
  /\b(PROTOCOL|DESIGN)\.[m]d\b/,
];

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((file) => file !== '' && file !== 'package-lock.json');
}

describe('the repository stands alone', () => {
  it('has no tracked file that reads or cites a document outside the checkout', () => {
    const files = trackedFiles();
    expect(files).toContain('docs/protocol.md');
    const offending = files.flatMap((file) => {
      const full = path.join(repoRoot, file);
      // A file deleted in the working tree but not yet from the index holds nothing.
      if (!existsSync(full)) return [];
      const text = readFileSync(full, 'utf8');
      return FORBIDDEN.filter((pattern) => pattern.test(text)).map(
        (pattern) => `${file}: ${text.match(pattern)?.[0]}`,
      );
    });
    expect(offending).toEqual([]);
  });
});
