import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoDb as fromScript } from '../../scripts/build-demo-db.ts';
import {
  buildDemoDb,
  DEMO_CSV_DIR,
  DEMO_DB_PATH,
  DEMO_TABLES,
  ensureDemoDb,
  parseCsv,
} from '../../src/skills/sql/demo-db.ts';
import { repoRoot } from '../helpers/docs.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'demo-db-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function csvRows(table: string): number {
  return parseCsv(readFileSync(path.join(DEMO_CSV_DIR, `${table}.csv`), 'utf8'), table).length - 1;
}

/** Every row of every table, in key order: what a rebuild must reproduce. */
function dump(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return DEMO_TABLES.map((t) =>
      JSON.stringify(db.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).raw(true).all()),
    ).join('\n');
  } finally {
    db.close();
  }
}

describe('the demo database builder', () => {
  it('is the function the npm script exports', () => {
    expect(fromScript).toBe(buildDemoDb);
  });

  it('builds the four tables with every CSV row, a few thousand in all', () => {
    const file = path.join(dir, 'demo.sqlite');
    const counts = buildDemoDb({ outFile: file });
    expect(Object.keys(counts)).toEqual(['products', 'customers', 'orders', 'order_items']);
    for (const table of DEMO_TABLES) expect(counts[table]).toBe(csvRows(table));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(2000);
    const db = new Database(file, { readonly: true });
    try {
      const tables = db
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(['customers', 'order_items', 'orders', 'products']);
      for (const table of DEMO_TABLES) {
        expect(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get()).toBe(counts[table]);
      }
      // Whole months, from January 2025 up to and including October 2026.
      const months = db
        .prepare('SELECT DISTINCT substr(ordered_at, 1, 7) FROM orders ORDER BY 1')
        .pluck()
        .all();
      expect(months[0]).toBe('2025-01');
      expect(months.at(-1)).toBe('2026-10');
      expect(months).toHaveLength(22);
      expect(db.prepare('SELECT MAX(ordered_at) FROM orders').pluck().get()).toMatch(/^2026-10-31/);
      expect(db.prepare('SELECT MIN(ordered_at) FROM orders').pluck().get()).toMatch(/^2025-01-01/);
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('is idempotent: building again gives the same data', () => {
    const file = path.join(dir, 'again.sqlite');
    buildDemoDb({ outFile: file });
    const first = dump(file);
    buildDemoDb({ outFile: file });
    expect(dump(file)).toBe(first);
  });

  it('leaves neither a half-built file nor a temporary one when a CSV is bad', () => {
    const csvDir = path.join(dir, 'bad-csv');
    rmSync(csvDir, { recursive: true, force: true });
    mkdirSync(csvDir);
    for (const table of DEMO_TABLES) {
      copyFileSync(path.join(DEMO_CSV_DIR, `${table}.csv`), path.join(csvDir, `${table}.csv`));
    }
    writeFileSync(
      path.join(csvDir, 'orders.csv'),
      'id,customer_id,ordered_at,status,shipping_cents\n1,1,2026-01-01 10:00:00,delivered,0\n2,x,2026-01-02 10:00:00,delivered,0\n',
    );
    const out = path.join(dir, 'bad-out');
    mkdirSync(out);
    expect(() => buildDemoDb({ csvDir, outFile: path.join(out, 'demo.sqlite') })).toThrow(
      `${path.join(csvDir, 'orders.csv')}:3: "customer_id" must be a whole number, not "x".`,
    );
    expect(readdirSync(out)).toEqual([]);
  });

  it('is built by `npm run demo:db`, which says what it built', () => {
    const scripts = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts;
    expect(scripts['demo:db']).toBe('exec node --import tsx scripts/build-demo-db.ts');
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-demo-db.ts'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    expect(out.trim()).toMatch(
      /^Built data\/demo\.sqlite: products 24, customers 700, orders \d{4}, order_items \d{4} rows\.$/,
    );
    expect(existsSync(DEMO_DB_PATH)).toBe(true);
  });

  it('is built by ensureDemoDb only when the file is missing', () => {
    const file = path.join(dir, 'ensured.sqlite');
    expect(ensureDemoDb(file)).toBe(true);
    expect(ensureDemoDb(file)).toBe(false);
    expect(dump(file)).toContain('House Espresso');
  });

  it('reads quoted CSV fields with commas, quotes and line breaks', () => {
    expect(parseCsv('a,b\n"x, y","say ""hi""\nthere"\n', 'f.csv')).toEqual([
      { line: 1, values: ['a', 'b'] },
      { line: 2, values: ['x, y', 'say "hi"\nthere'] },
    ]);
    expect(() => parseCsv('a\n"open\n', 'f.csv')).toThrow(
      'f.csv:2: a quoted field is never closed.',
    );
  });
});
