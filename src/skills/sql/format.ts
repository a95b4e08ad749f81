/** What the SQL tools hand to the model, the same for SQLite and PostgreSQL. */

/** Rows of a query, at most the row cap; `truncated` when the query had more. */
export interface QueryResult {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
  readonly truncated: boolean;
}

export interface TableSummary {
  readonly name: string;
  readonly type: 'table' | 'view';
  readonly columns: readonly string[];
}

export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
  readonly default: string | null;
}

export interface TableDescription {
  readonly name: string;
  readonly type: 'table' | 'view';
  readonly columns: readonly ColumnInfo[];
  /** Primary key, foreign keys, unique and check constraints, as SQL. */
  readonly constraints: readonly string[];
  readonly indexes: readonly string[];
  readonly sample: QueryResult;
}

/** Longest text of one cell handed to the model. */
export const MAX_CELL_CHARS = 2000;

/** A cell as JSON can carry it: long text cut, binary data named by its size. */
export function cell(value: unknown): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') {
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return `<${value.byteLength}-byte blob>`;
  if (value instanceof Date) return value.toISOString();
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > MAX_CELL_CHARS ? `${text.slice(0, MAX_CELL_CHARS)}… (cut)` : text;
}

/**
 * A query result as compact JSON, one row per line: columns, then rows as arrays. When
 * rows were left out, a note says so first, where the model reads it before the rows.
 */
export function formatResult(result: QueryResult, maxRows: number): string {
  const head = {
    ...(result.truncated
      ? {
          note: `Only the first ${maxRows} rows are shown: the query returned more. Aggregate, filter or add LIMIT to get what you need.`,
        }
      : {}),
    columns: result.columns,
    rowCount: result.rows.length,
  };
  const rows = result.rows.map((row) => JSON.stringify(row.map(cell)));
  const opening = JSON.stringify(head).slice(0, -1);
  return rows.length === 0 ? `${opening},"rows":[]}` : `${opening},"rows":[\n${rows.join(',\n')}]}`;
}

export function formatTables(tables: readonly TableSummary[], limit: number): string {
  if (tables.length === 0) return 'The database has no tables or views you can read.';
  const lines = tables.slice(0, limit).map((t) => `${t.name} (${t.type}): ${t.columns.join(', ')}`);
  const more = tables.length > limit ? `\n(only the first ${limit} are listed)` : '';
  return `${Math.min(tables.length, limit)} tables and views, with their columns:\n${lines.join('\n')}${more}`;
}

export function formatDescription(table: TableDescription, maxRows: number): string {
  const columns = table.columns.map(
    (c) =>
      `- ${c.name} ${c.type || '(no type)'}${c.nullable ? '' : ' NOT NULL'}${c.default === null ? '' : ` DEFAULT ${c.default}`}`,
  );
  return [
    `${table.type === 'view' ? 'View' : 'Table'} ${table.name}`,
    'Columns:',
    ...columns,
    ...(table.constraints.length > 0
      ? ['Constraints:', ...table.constraints.map((c) => `- ${c}`)]
      : []),
    ...(table.indexes.length > 0 ? ['Indexes:', ...table.indexes.map((i) => `- ${i}`)] : []),
    `Sample rows: ${formatResult(table.sample, maxRows)}`,
  ].join('\n');
}

/** `sqlite:<path>` or a PostgreSQL URL, as SQL_DATABASE_URL gives it. */
export type SqlTarget = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

/**
 * Reads SQL_DATABASE_URL: `sqlite:<path>` (relative to the working directory;
 * `sqlite:///abs/path` also names an absolute one) or `postgres://` / `postgresql://`.
 */
export function parseSqlUrl(url: string): SqlTarget {
  if (url.startsWith('sqlite:')) {
    const rest = url.slice('sqlite:'.length);
    const file = rest.startsWith('//') ? rest.slice(2) : rest;
    if (file === '')
      throw new Error('SQL_DATABASE_URL: sqlite: needs a path, as in sqlite:data/shop.db');
    return { kind: 'sqlite', path: file };
  }
  if (/^postgres(ql)?:\/\//.test(url) && URL.canParse(url)) return { kind: 'postgres', url };
  throw new Error('SQL_DATABASE_URL must be sqlite:<path> or a postgres:// or postgresql:// URL.');
}
