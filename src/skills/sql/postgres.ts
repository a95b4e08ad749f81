import pg from 'pg';
import Cursor from 'pg-cursor';
import type { Logger } from 'pino';
import type { SqlBackend } from './backend.ts';
import type { ColumnInfo, QueryResult, TableDescription, TableSummary } from './format.ts';

/** Tables listed by list_tables, at most (a catalogue of thousands helps nobody). */
const MAX_TABLES = 500;

/** Dates and times as PostgreSQL prints them (not JS Dates in this process's zone). */
const AS_TEXT = new Set([1082, 1083, 1114, 1184, 1266]);
const INT8 = 20;
const NUMERIC = 1700;

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (AS_TEXT.has(oid)) return (value: string) => value;
    // Numbers when they survive the trip exactly; the text otherwise (big or precise values).
    if (oid === INT8 || oid === NUMERIC) {
      return (value: string) => (String(Number(value)) === value ? Number(value) : value);
    }
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

/**
 * PostgreSQL through a `pg` Pool. Every call is one `BEGIN READ ONLY` transaction with a
 * `SET LOCAL statement_timeout`, rolled back at the end: the server refuses any write,
 * however it is hidden (a CTE, a function, nextval). Rows are read through a cursor, so
 * no more than the cap ever leaves the server. Sessions also default to read-only.
 */
export class PostgresBackend implements SqlBackend {
  readonly dialect = 'PostgreSQL';
  readonly #pool: pg.Pool;
  readonly #maxRows: number;
  readonly #timeoutMs: number;
  readonly #where: string;

  constructor(options: { url: string; maxRows: number; timeoutMs: number; log: Logger }) {
    this.#maxRows = options.maxRows;
    this.#timeoutMs = options.timeoutMs;
    const url = new URL(options.url);
    // Named in errors without user or password.
    this.#where = `${url.hostname}:${url.port || 5432}${url.pathname}`;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: 4,
      connectionTimeoutMillis: options.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'agentgate-sql',
      options: '-c default_transaction_read_only=on',
    });
    // An idle connection that breaks is dropped by the pool; it must not end the process.
    this.#pool.on('error', (error) =>
      options.log.warn({ err: error.message }, 'sql skill: an idle PostgreSQL connection failed'),
    );
  }

  listTables(signal?: AbortSignal): Promise<TableSummary[]> {
    return this.#readOnly(signal, async (client) => {
      const { rows } = await client.query<{
        schema: string;
        name: string;
        type: string;
        columns: string[];
      }>(
        `SELECT c.table_schema AS schema, c.table_name AS name, t.table_type AS type,
                array_agg(c.column_name::text ORDER BY c.ordinal_position) AS columns
           FROM information_schema.columns c
           JOIN information_schema.tables t USING (table_schema, table_name)
          WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
          GROUP BY 1, 2, 3 ORDER BY 1, 2 LIMIT ${MAX_TABLES + 1}`,
      );
      return rows.map((row) => ({
        name: qualified(row.schema, row.name),
        type: row.type === 'VIEW' ? 'view' : 'table',
        columns: row.columns,
      }));
    });
  }

  describeTable(table: string, signal?: AbortSignal): Promise<TableDescription> {
    return this.#readOnly(signal, async (client) => {
      const dot = table.indexOf('.');
      const schema = dot > 0 ? table.slice(0, dot) : undefined;
      const name = dot > 0 ? table.slice(dot + 1) : table;
      const { rows: found } = await client.query<{ schema: string; type: string }>(
        `SELECT table_schema AS schema, table_type AS type FROM information_schema.tables
          WHERE table_name = $1 AND ($2::text IS NULL OR table_schema = $2)
            AND table_schema NOT IN ('pg_catalog', 'information_schema')
          ORDER BY table_schema = 'public' DESC, table_schema`,
        [name, schema ?? null],
      );
      const match = found[0];
      if (!match || (schema === undefined && found.length > 1 && match.schema !== 'public')) {
        throw new Error(
          match
            ? `"${table}" is in several schemas (${found.map((f) => f.schema).join(', ')}); name one, as in ${found[0]?.schema}.${name}.`
            : `There is no table or view "${table}" you can read. list_tables lists them.`,
        );
      }
      const relation = `${client.escapeIdentifier(match.schema)}.${client.escapeIdentifier(name)}`;
      const { rows: columns } = await client.query<ColumnInfo>(
        `SELECT column_name AS name,
                CASE WHEN data_type = 'USER-DEFINED' THEN udt_name ELSE data_type END AS type,
                is_nullable = 'YES' AS nullable, column_default AS default
           FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
          ORDER BY ordinal_position`,
        [match.schema, name],
      );
      const { rows: constraints } = await client.query<{ definition: string }>(
        `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint
          WHERE conrelid = $1::regclass ORDER BY contype DESC, conname`,
        [relation],
      );
      const { rows: indexes } = await client.query<{ definition: string }>(
        `SELECT indexdef AS definition FROM pg_indexes
          WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname`,
        [match.schema, name],
      );
      return {
        name: qualified(match.schema, name),
        type: match.type === 'VIEW' ? 'view' : 'table',
        columns,
        constraints: constraints.map((c) => c.definition),
        indexes: indexes.map((i) => i.definition),
        sample: await this.#rows(client, `SELECT * FROM ${relation} LIMIT 3`),
      };
    });
  }

  query(sql: string, signal?: AbortSignal): Promise<QueryResult> {
    return this.#readOnly(signal, async (client) => {
      const result = await this.#rows(client, sql);
      // SET, COMMIT and the like: rolled back with the transaction, and refused like SQLite does.
      if (result.columns.length === 0) {
        throw new Error(
          'sql_query only reads: this statement returns no rows. Use SELECT (or WITH … SELECT).',
        );
      }
      return result;
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  /** At most maxRows rows of `sql`, through a cursor: the server stops producing after them. */
  async #rows(client: pg.PoolClient, sql: string): Promise<QueryResult> {
    const cursor = client.query(new Cursor(sql, [], { rowMode: 'array', types }));
    try {
      const { rows, fields } = await new Promise<{ rows: unknown[][]; fields: string[] }>(
        (resolve, reject) => {
          cursor.read(this.#maxRows + 1, (error, rows, result) => {
            if (error) reject(error);
            else resolve({ rows, fields: (result?.fields ?? []).map((f) => f.name) });
          });
        },
      );
      return {
        columns: fields,
        rows: rows.slice(0, this.#maxRows),
        truncated: rows.length > this.#maxRows,
      };
    } finally {
      await cursor.close().catch(() => {});
    }
  }

  /**
   * Runs `work` in a read-only transaction with the statement timeout, then rolls it back.
   * A connection that does not answer within the time (plus a second) is destroyed.
   */
  async #readOnly<T>(
    signal: AbortSignal | undefined,
    work: (client: pg.PoolClient) => Promise<T>,
  ): Promise<T> {
    signal?.throwIfAborted();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw new Error(
        `Cannot connect to PostgreSQL at ${this.#where}: ${(error as Error).message}`,
      );
    }
    let broken: Error | undefined;
    let fail: (error: Error) => void = () => {};
    const stop = new Promise<never>((_, reject) => {
      fail = (error: Error) => {
        broken = error;
        reject(error);
      };
    });
    stop.catch(() => {});
    const timer = setTimeout(() => fail(this.#timeoutError()), this.#timeoutMs + 1000);
    const onAbort = () => fail(signal?.reason ?? new Error('Aborted.'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const run = async () => {
        await client.query('BEGIN READ ONLY');
        await client.query(`SET LOCAL statement_timeout = ${this.#timeoutMs}`);
        return work(client);
      };
      return await Promise.race([run(), stop]);
    } catch (error) {
      throw this.#explain(error as Error & { code?: string });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (broken) client.release(broken);
      else {
        try {
          await client.query('ROLLBACK');
          client.release();
        } catch (error) {
          client.release(error as Error);
        }
      }
    }
  }

  #timeoutError(): Error {
    return new Error(
      `The query took longer than ${this.#timeoutMs} ms (SQL_TIMEOUT_MS) and was stopped. Make it cheaper: filter, aggregate or add LIMIT.`,
    );
  }

  #explain(error: Error & { code?: string }): Error {
    if (error.code === '57014') return this.#timeoutError();
    if (error.code === '25006') {
      return new Error(
        `sql_query only reads: PostgreSQL refused this statement (${error.message}). Use SELECT (or WITH … SELECT).`,
      );
    }
    if (error.code !== undefined) return new Error(`PostgreSQL: ${error.message}`);
    return error;
  }
}

/** `table` in the public schema, `schema.table` elsewhere; describe_table accepts both. */
function qualified(schema: string, name: string): string {
  return schema === 'public' ? name : `${schema}.${name}`;
}
