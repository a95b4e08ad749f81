import { randomBytes } from 'node:crypto';
import type { StructuredToolInterface } from '@langchain/core/tools';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqlTools } from '../../src/skills/sql/index.ts';

/** The PostgreSQL of the tests (trust auth, database `test`); a test fails without it. */
const PG_URL = process.env.PG_TEST_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const log = pino({ level: 'silent' });
const MAX_ROWS = 40;
const TIMEOUT_MS = 1000;
const schema = `skills_test_${randomBytes(4).toString('hex')}`;

let admin: pg.Client;
let sql: ReturnType<typeof createSqlTools>;
let tool: (name: string) => StructuredToolInterface;

beforeAll(async () => {
  admin = new pg.Client(PG_URL);
  await admin.connect();
  await admin.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.beans (
      id serial PRIMARY KEY,
      name text NOT NULL UNIQUE,
      price numeric(8, 2) NOT NULL,
      stock bigint NOT NULL DEFAULT 0,
      roasted_on date,
      added_at timestamptz NOT NULL DEFAULT '2026-10-01 12:00:00+00'
    );
    CREATE TABLE ${schema}.sales (
      bean_id int NOT NULL REFERENCES ${schema}.beans (id),
      units int NOT NULL CHECK (units > 0)
    );
    INSERT INTO ${schema}.beans (name, price, stock, roasted_on) VALUES
      ('Kenya Nyeri', 18.50, 9007199254740993, '2026-10-20'), ('Brazil Cerrado', 12.00, 3, NULL);
    INSERT INTO ${schema}.sales VALUES (1, 5), (2, 7);
    CREATE SEQUENCE ${schema}.counter;
    CREATE FUNCTION ${schema}.sneaky() RETURNS int LANGUAGE sql AS
      $$ INSERT INTO ${schema}.sales VALUES (1, 100) RETURNING units $$;
  `);
  sql = createSqlTools({ url: PG_URL, maxRows: MAX_ROWS, timeoutMs: TIMEOUT_MS, log });
  tool = (name) => {
    const found = sql.tools.find((t) => t.name === name);
    if (!found) throw new Error(`no tool ${name}`);
    return found;
  };
});

afterAll(async () => {
  await sql?.close();
  await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin?.end();
});

async function query(
  text: string,
): Promise<{ columns: string[]; rows: unknown[][]; note?: string }> {
  return JSON.parse(await tool('sql_query').invoke({ query: text }));
}

async function salesRows(): Promise<number> {
  return Number((await admin.query(`SELECT count(*) FROM ${schema}.sales`)).rows[0].count);
}

describe('SQL tools on PostgreSQL', () => {
  it('name the dialect', () => {
    expect(tool('sql_query').description).toMatch(/PostgreSQL dialect.*at most 40.*1000 ms/);
  });

  it('list the tables, schema-qualified outside public, with their columns', async () => {
    const text = await tool('list_tables').invoke({});
    expect(text).toContain(`${schema}.beans (table): id, name, price, stock, roasted_on, added_at`);
    expect(text).toContain(`${schema}.sales (table): bean_id, units`);
  });

  it('describe a table: columns, constraints, indexes, sample rows', async () => {
    const text = await tool('describe_table').invoke({ table: `${schema}.sales` });
    expect(text).toContain(`Table ${schema}.sales`);
    expect(text).toContain('- units integer NOT NULL');
    expect(text).toContain(`FOREIGN KEY (bean_id) REFERENCES ${schema}.beans(id)`);
    expect(text).toContain('CHECK ((units > 0))');
    expect(text).toMatch(/Sample rows: \{"columns":\["bean_id","units"\],"rowCount":2/);
    const beans = await tool('describe_table').invoke({ table: `${schema}.beans` });
    expect(beans).toContain('PRIMARY KEY (id)');
    expect(beans).toContain(
      `CREATE UNIQUE INDEX beans_name_key ON ${schema}.beans USING btree (name)`,
    );
  });

  it('say so when a table does not exist', async () => {
    await expect(tool('describe_table').invoke({ table: `${schema}.nope` })).rejects.toThrow(
      `There is no table or view "${schema}.nope" you can read. list_tables lists them.`,
    );
  });

  it('answer a query with readable values: exact numbers, big ones as text, dates as text', async () => {
    const result = await query(
      `SELECT name, price, stock, roasted_on, added_at, count(*) OVER () AS n FROM ${schema}.beans ORDER BY id`,
    );
    expect(result.columns).toEqual(['name', 'price', 'stock', 'roasted_on', 'added_at', 'n']);
    expect(result.rows[0]).toEqual([
      'Kenya Nyeri',
      '18.50',
      '9007199254740993',
      '2026-10-20',
      expect.stringMatching(/^2026-10-01 1\d:00:00/),
      2,
    ]);
    expect(result.rows[1]?.slice(0, 4)).toEqual(['Brazil Cerrado', '12.00', 3, null]);
  });

  it.each([
    [
      `INSERT INTO ${schema}.sales VALUES (1, 1)`,
      'cannot execute INSERT in a read-only transaction',
    ],
    [`UPDATE ${schema}.sales SET units = 0`, 'cannot execute UPDATE in a read-only transaction'],
    [`DELETE FROM ${schema}.sales`, 'cannot execute DELETE in a read-only transaction'],
    [`CREATE TABLE ${schema}.t (x int)`, 'cannot execute CREATE TABLE in a read-only transaction'],
    [`DROP TABLE ${schema}.sales`, 'cannot execute DROP TABLE in a read-only transaction'],
    [
      `WITH moved AS (DELETE FROM ${schema}.sales RETURNING *) SELECT count(*) FROM moved`,
      'in a read-only transaction',
    ],
    [`SELECT ${schema}.sneaky()`, 'cannot execute INSERT in a read-only transaction'],
    [`SELECT nextval('${schema}.counter')`, 'cannot execute nextval() in a read-only transaction'],
  ])('refuse a write: %s', async (statement, why) => {
    const before = await salesRows();
    const error = await tool('sql_query')
      .invoke({ query: statement })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(
      /^sql_query only reads: PostgreSQL refused this statement/,
    );
    expect((error as Error).message).toContain(why);
    expect(await salesRows()).toBe(before);
  });

  it('refuse statements that return no rows, and leave the session as it was', async () => {
    for (const statement of ['SET TRANSACTION READ WRITE', 'COMMIT', 'SET statement_timeout = 0']) {
      await expect(tool('sql_query').invoke({ query: statement })).rejects.toThrow(
        'sql_query only reads: this statement returns no rows.',
      );
    }
    // Still capped in time and read-only afterwards.
    await expect(tool('sql_query').invoke({ query: 'SELECT pg_sleep(3)' })).rejects.toThrow(
      /took longer than 1000 ms/,
    );
    await expect(
      tool('sql_query').invoke({ query: `INSERT INTO ${schema}.sales VALUES (1, 1)` }),
    ).rejects.toThrow(/read-only transaction/);
  });

  it('refuse two statements at once', async () => {
    await expect(
      tool('sql_query').invoke({ query: `SELECT 1; DELETE FROM ${schema}.sales` }),
    ).rejects.toThrow('PostgreSQL: cannot insert multiple commands into a prepared statement');
  });

  it('stop a query over the time cap with a clear error, the event loop free meanwhile', async () => {
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    const started = performance.now();
    try {
      await expect(tool('sql_query').invoke({ query: 'SELECT pg_sleep(10)' })).rejects.toThrow(
        'The query took longer than 1000 ms (SQL_TIMEOUT_MS) and was stopped. Make it cheaper: filter, aggregate or add LIMIT.',
      );
    } finally {
      clearInterval(ticker);
    }
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1000);
    expect(ticks).toBeGreaterThan((TIMEOUT_MS / 50) * 0.6);
    expect((await query('SELECT 1 AS one')).rows).toEqual([[1]]);
  });

  it('stop a call when its turn is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('turn cancelled')), 100);
    const started = performance.now();
    await expect(
      tool('sql_query').invoke({ query: 'SELECT pg_sleep(10)' }, { signal: controller.signal }),
    ).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS - 300);
    expect((await query('SELECT 2 AS two')).rows).toEqual([[2]]);
  });

  it('truncate a million-row result at the row cap without fetching it all', async () => {
    const started = performance.now();
    const result = await query('SELECT x FROM generate_series(1, 1000000) AS x');
    expect(result.rows).toHaveLength(MAX_ROWS);
    expect(result.rows.at(-1)).toEqual([MAX_ROWS]);
    expect(result.note).toMatch(/Only the first 40 rows are shown/);
    expect(performance.now() - started).toBeLessThan(TIMEOUT_MS);
  });

  it('name the server, never the password, when it cannot connect', async () => {
    const down = createSqlTools({
      url: 'postgres://reader:hunter2@127.0.0.1:1/shop',
      maxRows: 5,
      timeoutMs: 1000,
      log,
    });
    try {
      const error = await down.tools[0]!.invoke({}).catch((e: Error) => e);
      expect((error as Error).message).toMatch(
        /^Cannot connect to PostgreSQL at 127\.0\.0\.1:1\/shop: /,
      );
      expect((error as Error).message).not.toContain('hunter2');
    } finally {
      await down.close();
    }
  });
});
