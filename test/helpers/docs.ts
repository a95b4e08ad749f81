import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root: tests read the repo's own docs, never a file outside it. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** The text of `docs/<name>`. */
export function readDoc(name: string): string {
  return readFileSync(path.join(repoRoot, 'docs', name), 'utf8');
}

/** The `## heading` section of a Markdown text, up to the next `## ` heading. */
export function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no section "## ${heading}"`);
  const end = markdown.indexOf('\n## ', start + 1);
  return markdown.slice(start, end < 0 ? undefined : end);
}

/**
 * The body rows, as trimmed cells, of every Markdown table in `markdown` whose header has
 * exactly the cells `header`. Throws when there is none, so a renamed column fails loudly.
 */
export function tableRows(markdown: string, header: readonly string[]): string[][] {
  const rows: string[][] = [];
  let tables = 0;
  let inTable = false;
  let wanted = false;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .trim()
      .slice(1, -1)
      .split('|')
      .map((cell) => cell.trim());
    if (!inTable) {
      inTable = true;
      wanted = cells.join('|') === header.join('|');
      if (wanted) tables += 1;
    } else if (wanted && !cells.every((cell) => /^:?-+:?$/.test(cell))) {
      rows.push(cells);
    }
  }
  if (tables === 0) throw new Error(`no table with the header | ${header.join(' | ')} |`);
  return rows;
}

/** The names in backticks of a Markdown cell: "`a` / `b`" gives ["a", "b"]. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}
