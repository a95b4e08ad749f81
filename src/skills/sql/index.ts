import { existsSync } from 'node:fs';
import path from 'node:path';
import { type StructuredToolInterface, tool } from '@langchain/core/tools';
import type { Logger } from 'pino';
import { z } from 'zod';
import { ConfigError } from '../../config/config.ts';
import type { SqlBackend } from './backend.ts';
import { DEMO_DB_PATH, ensureDemoDb } from './demo-db.ts';
import { formatDescription, formatResult, formatTables, parseSqlUrl } from './format.ts';
import { PostgresBackend } from './postgres.ts';
import { SqliteBackend } from './sqlite.ts';

export const SQL_TOOL_NAMES = ['list_tables', 'describe_table', 'sql_query'] as const;

/** Tables list_tables names at most. */
const MAX_TABLES = 500;

/**
 * The SQL skill's tools over SQL_DATABASE_URL: `list_tables`, `describe_table {table}` and
 * `sql_query {query}`. Read-only by construction (SQLite opened read-only by the driver,
 * PostgreSQL in read-only transactions), capped at `maxRows` rows and `timeoutMs` per call;
 * every refusal is a thrown Error whose message the model reads. The demo database is built
 * here when the URL names it and it is missing; another SQLite file must exist (ConfigError).
 */
export function createSqlTools(options: {
  url: string;
  maxRows: number;
  timeoutMs: number;
  log: Logger;
}): { tools: StructuredToolInterface[]; close(): Promise<void> } {
  const { maxRows, timeoutMs, log } = options;
  let target: ReturnType<typeof parseSqlUrl>;
  try {
    target = parseSqlUrl(options.url);
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }
  let backend: SqlBackend;
  if (target.kind === 'sqlite') {
    const file = path.resolve(target.path);
    if (file === DEMO_DB_PATH && ensureDemoDb(file)) {
      log.info({ file }, 'sql skill: built the demo database from data/demo/*.csv');
    }
    if (!existsSync(file)) {
      throw new ConfigError([
        `SQL_DATABASE_URL names the SQLite file ${file}, which does not exist.`,
      ]);
    }
    backend = new SqliteBackend({ path: file, maxRows, timeoutMs });
  } else {
    backend = new PostgresBackend({ url: target.url, maxRows, timeoutMs, log });
  }

  const timed = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } finally {
      log.debug({ tool: name, ms: Math.round(performance.now() - started) }, 'sql skill call');
    }
  };
  const dialect = backend.dialect;

  const listTables = tool(
    async (_input, runtime) =>
      timed('list_tables', async () =>
        formatTables(await backend.listTables(runtime?.signal), MAX_TABLES),
      ),
    {
      name: 'list_tables',
      description: `Lists the tables and views of the ${dialect} database, with their columns.`,
      schema: z.object({}),
    },
  );
  const describeTable = tool(
    async ({ table }, runtime) =>
      timed('describe_table', async () =>
        formatDescription(await backend.describeTable(table, runtime?.signal), maxRows),
      ),
    {
      name: 'describe_table',
      description: `Describes one table or view of the ${dialect} database: columns and types, keys, indexes and three sample rows.`,
      schema: z.object({
        table: z.string().min(1).max(256).describe('The table name, as list_tables gives it'),
      }),
    },
  );
  const sqlQuery = tool(
    async ({ query }, runtime) =>
      timed('sql_query', async () =>
        formatResult(await backend.query(query, runtime?.signal), maxRows),
      ),
    {
      name: 'sql_query',
      description: `Runs one read-only SQL statement (${dialect} dialect: SELECT or WITH … SELECT) and returns its rows as JSON, at most ${maxRows}; it is stopped after ${timeoutMs} ms.`,
      schema: z.object({
        query: z.string().min(1).max(20_000).describe('One SQL SELECT statement'),
      }),
    },
  );
  return { tools: [listTables, describeTable, sqlQuery], close: () => backend.close() };
}
