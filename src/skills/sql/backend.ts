import type { QueryResult, TableDescription, TableSummary } from './format.ts';

/**
 * A database the SQL tools read, read-only by construction: each call is capped in rows
 * (the backend's maxRows) and time (its timeoutMs), and ends with a clear Error otherwise.
 */
export interface SqlBackend {
  /** The SQL dialect, named in the tools' descriptions: "SQLite" or "PostgreSQL". */
  readonly dialect: string;
  listTables(signal?: AbortSignal): Promise<TableSummary[]>;
  describeTable(table: string, signal?: AbortSignal): Promise<TableDescription>;
  query(sql: string, signal?: AbortSignal): Promise<QueryResult>;
  close(): Promise<void>;
}
