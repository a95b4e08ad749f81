import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StructuredToolInterface } from '@langchain/core/tools';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_SQL_DATABASE_URL } from '../../src/config/config.ts';
import { DEMO_DB_PATH, ensureDemoDb } from '../../src/skills/sql/demo-db.ts';
import { createSqlTools } from '../../src/skills/sql/index.ts';
import { repoRoot } from '../helpers/docs.ts';

const log = pino({ level: 'silent' });
const MAX_ROWS = 50;
const TIMEOUT_MS = 1500;

let dir: string;
let file: string;
let sql: ReturnType<typeof createSqlTools>;
let tool: (name: string) => StructuredToolInterface;

function digest(): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

beforeAll(() => {
  ensureDemoDb();
  // A copy of the demo database: proof that nothing writes to it stays with this test.
  dir = mkdtempSync(path.join(os.tmpdir(), 'sql-sqlite-'));
  file = path.join(dir, 'shop.sqlite');
  copyFileSync(DEMO_DB_PATH, file);
  sql = createSqlTools({ url: `sqlite:${file}`, maxRows: MAX_ROWS, timeoutMs: TIMEOUT_MS, log });
  tool = (name) => {
    const found = sql.tools.find((t) => t.name === name);
    if (!found) throw new Error(`no tool ${name}`);
    return found;
  };
});

afterAll(async () => {
  await sql.close();
  rmSync(dir, { recursive: true, force: true });
});

async function query(
  text: string,
): Promise<{ columns: string[]; rows: unknown[][]; note?: string }> {
  return JSON.parse(await tool('sql_query').invoke({ query: text }));
}

describe('SQL tools on the SQLite demo database', () => {
  it('are named list_tables, describe_table and sql_query, and name the dialect', () => {
    expect(sql.tools.map((t) => t.name)).toEqual(['list_tables', 'describe_table', 'sql_query']);
    expect(tool('sql_query').description).toMatch(/SQLite dialect.*at most 50.*1500 ms/);
  });

  it('list the tables with their columns', async () => {
    const text = await tool('list_tables').invoke({});
    expect(text).toContain('customers (table): id, name, email, city, country, signed_up_on');
    expect(text).toContain('order_items (table): order_id, product_id, quantity, unit_price_cents');
    expect(text).toMatch(/^4 tables and views/);
  });

  it('describe a table: columns, keys, indexes and sample rows', async () => {
    const text = await tool('describe_table').invoke({ table: 'order_items' });
    expect(text).toContain('Table order_items');
    expect(text).toContain('- quantity INTEGER NOT NULL');
    expect(text).toContain('PRIMARY KEY (order_id, product_id)');
    expect(text).toContain('FOREIGN KEY (product_id) REFERENCES products (id)');
    expect(text).toContain('CREATE INDEX order_items_product ON order_items (product_id)');
    expect(text).toMatch(
      /Sample rows: \{"columns":\["order_id","product_id","quantity","unit_price_cents"\],"rowCount":3/,
    );
  });

  it('name the tables when asked to describe one that does not exist', async () => {
    await expect(tool('describe_table').invoke({ table: 'nope' })).rejects.toThrow(
      'There is no table or view "nope". Tables: customers, order_items, orders, products.',
    );
  });

  it('answer a query with columns and rows', async () => {
    const result = await query(
      "SELECT substr(MAX(ordered_at), 1, 7) AS month, COUNT(*) AS orders FROM orders WHERE ordered_at >= '2026-10-01'",
    );
    expect(result.columns).toEqual(['month', 'orders']);
    expect(result.rows).toEqual([['2026-10', expect.any(Number)]]);
    expect(result.note).toBeUndefined();
  });

  it('read a statement that writes nothing, such as a table-valued PRAGMA', async () => {
    const result = await query("SELECT name FROM pragma_table_info('orders') ORDER BY cid");
    expect(result.rows.flat()).toEqual([
      'id',
      'customer_id',
      'ordered_at',
      'status',
      'shipping_cents',
    ]);
  });

  it.each([
    "INSERT INTO products (id, name, category, price_cents, launched_on) VALUES (999, 'x', 'merch', 1, '2026-01-01')",
    'UPDATE products SET price_cents = 0',
    'DELETE FROM order_items',
    'CREATE TABLE t (x INTEGER)',
    'DROP TABLE orders',
    "INSERT INTO products (id, name, category, price_cents, launched_on) VALUES (998, 'y', 'merch', 1, '2026-01-01') RETURNING id",
    'PRAGMA user_version = 7',
    'PRAGMA query_only = OFF',
    'PRAGMA journal_mode = WAL',
    "ATTACH DATABASE ':memory:' AS scratch",
    `ATTACH DATABASE '${path.join(os.tmpdir(), 'agentgate-attach-test.db')}' AS scratch`,
    `VACUUM INTO '${path.join(os.tmpdir(), 'agentgate-vacuum-test.db')}'`,
  ])('refuse a write: %s', async (statement) => {
    const before = digest();
    await expect(tool('sql_query').invoke({ query: statement })).rejects.toThrow(
      /sql_query only reads: this statement would change the database or the connection/,
    );
    expect(digest()).toBe(before);
  });

  it('refuse two statements at once', async () => {
    await expect(
      tool('sql_query').invoke({ query: 'SELECT 1; DELETE FROM orders' }),
    ).rejects.toThrow(/more than one statement/);
  });

  it('report a SQL error as SQLite says it', async () => {
    await expect(tool('sql_query').invoke({ query: 'SELEC 1' })).rejects.toThrow(
      'SQLite: near "SELEC": syntax error',
    );
  });

  it('truncate a million-row result at the row cap, with a note', async () => {
    const started = performance.now();
    const result = await query(
      'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000) SELECT x FROM n',
    );
    expect(result.rows).toHaveLength(MAX_ROWS);
    expect(result.rows[MAX_ROWS - 1]).toEqual([MAX_ROWS]);
    expect(result.note).toMatch(/Only the first 50 rows are shown/);
    // Iterated, not materialised: far quicker than producing a million rows.
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('stop a query over the time cap with a clear error, the event loop free meanwhile', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    const started = performance.now();
    try {
      await expect(
        tool('sql_query').invoke({
          query:
            'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c',
        }),
      ).rejects.toThrow(
        'The query took longer than 1500 ms (SQL_TIMEOUT_MS) and was stopped. Make it cheaper: filter, aggregate or add LIMIT.',
      );
    } finally {
      clearInterval(ticker);
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    // About one tick per 50 ms: the loop was never held.
    expect(ticks).toBeGreaterThan((TIMEOUT_MS / 50) * 0.6);
    // The runaway query's process is gone, not left burning a core.
    const children = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
    expect(children).not.toContain('sqlite-child');
    // And the database answers the next call.
    expect((await query('SELECT 1 AS one')).rows).toEqual([[1]]);
  });

  it('stop a call when its turn is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('turn cancelled')), 200);
    const started = performance.now();
    await expect(
      tool('sql_query').invoke(
        {
          query:
            'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c',
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(1000);
    // The query's process was killed with the turn, well before its time cap.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const children = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
    expect(children).not.toContain('sqlite-child');
  });
});

describe('createSqlTools', () => {
  it('refuses a SQLite file that does not exist', () => {
    expect(() =>
      createSqlTools({ url: 'sqlite:/nonexistent/shop.db', maxRows: 10, timeoutMs: 1000, log }),
    ).toThrow(
      new ConfigError([
        'SQL_DATABASE_URL names the SQLite file /nonexistent/shop.db, which does not exist.',
      ]),
    );
  });

  it('refuses a URL of another kind', () => {
    expect(() => createSqlTools({ url: 'mysql://x/y', maxRows: 10, timeoutMs: 1000, log })).toThrow(
      /SQL_DATABASE_URL must be sqlite:<path> or a postgres:\/\/ or postgresql:\/\/ URL/,
    );
  });

  it('opens the demo database by the default URL from the repo root, sqlite:///abs too', async () => {
    expect(DEFAULT_SQL_DATABASE_URL).toBe('sqlite:data/demo.sqlite');
    const cwd = process.cwd();
    process.chdir(repoRoot);
    try {
      for (const url of [DEFAULT_SQL_DATABASE_URL, `sqlite://${DEMO_DB_PATH}`]) {
        const demo = createSqlTools({ url, maxRows: 5, timeoutMs: 5000, log });
        try {
          const text = await demo.tools[0]!.invoke({});
          expect(text).toContain('products (table)');
        } finally {
          await demo.close();
        }
      }
    } finally {
      process.chdir(cwd);
    }
  });
});
