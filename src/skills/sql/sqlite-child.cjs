'use strict';
/**
 * One request of the SQL skill against SQLite, in a process of its own (sqlite.ts forks it).
 * better-sqlite3 is synchronous and cannot be interrupted: a query runs inside one native call
 * that neither the event loop nor a worker thread's terminate() can stop. A process can be
 * killed, so the parent kills this one when the time is up. Plain JavaScript: it starts
 * without a TypeScript loader, in tens of milliseconds.
 *
 * Once loaded it sends { ready: true }; then comes the request (one IPC message):
 * { op: 'tables' | 'describe' | 'query', path, maxRows, table?, sql? }.
 * Reply: { ok: true, result } or { ok: false, message }; the process exits after replying.
 */

const Database = require('better-sqlite3');

process.once('message', (request) => {
  let reply;
  try {
    reply = { ok: true, result: run(request) };
  } catch (error) {
    reply = { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
  process.send(reply, () => process.exit(0));
});
process.send({ ready: true });

function run(request) {
  // Read-only by the driver: SQLite refuses every write to the file, whatever the SQL says.
  const db = new Database(request.path, { readonly: true, fileMustExist: true });
  try {
    db.pragma('query_only = ON');
    if (request.op === 'tables') return tables(db);
    if (request.op === 'describe') return describe(db, request.table, request.maxRows);
    return select(db, request.sql, request.maxRows);
  } finally {
    db.close();
  }
}

/**
 * Rows of one statement, at most maxRows, read one at a time (a million-row result is never
 * held). Only a statement that SQLite compiled as returning rows without writing is run:
 * INSERT … RETURNING, ATTACH, VACUUM INTO and assigning PRAGMAs are refused before they run.
 */
function select(db, sql, maxRows) {
  const statement = db.prepare(sql);
  if (!statement.reader || !statement.readonly) {
    throw new Error(
      'sql_query only reads: this statement would change the database or the connection. Use SELECT (or WITH … SELECT).',
    );
  }
  statement.raw(true);
  const columns = statement.columns().map((column) => column.name);
  const rows = [];
  let truncated = false;
  for (const row of statement.iterate()) {
    if (rows.length === maxRows) {
      truncated = true;
      break;
    }
    rows.push(row.map(plain));
  }
  return { columns, rows, truncated };
}

/** A value that survives the IPC channel's JSON: a blob becomes its size. */
function plain(value) {
  if (Buffer.isBuffer(value)) return `<${value.length}-byte blob>`;
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function tables(db) {
  const list = db
    .prepare(
      "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all();
  const columnsOf = db.prepare('SELECT name FROM pragma_table_info(?) ORDER BY cid').pluck();
  return list.map((table) => ({
    name: table.name,
    type: table.type,
    columns: columnsOf.all(table.name),
  }));
}

function describe(db, name, maxRows) {
  const table = db
    .prepare(
      "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' AND name = ?",
    )
    .get(name);
  if (!table) {
    const known = tables(db).map((t) => t.name);
    throw new Error(
      `There is no table or view "${name}". ${known.length ? `Tables: ${known.join(', ')}.` : 'The database has none.'}`,
    );
  }
  const info = db.prepare('SELECT * FROM pragma_table_info(?) ORDER BY cid').all(table.name);
  const columns = info.map((c) => ({
    name: c.name,
    type: c.type,
    nullable: c.notnull === 0 && c.pk === 0,
    default: c.dflt_value,
  }));
  const constraints = [];
  const key = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  if (key.length > 0) constraints.push(`PRIMARY KEY (${key.map((c) => c.name).join(', ')})`);
  const foreign = db
    .prepare('SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq')
    .all(table.name);
  const byId = new Map();
  for (const fk of foreign) {
    const entry = byId.get(fk.id) ?? { table: fk.table, from: [], to: [] };
    entry.from.push(fk.from);
    entry.to.push(fk.to ?? '');
    byId.set(fk.id, entry);
  }
  for (const fk of byId.values()) {
    constraints.push(
      `FOREIGN KEY (${fk.from.join(', ')}) REFERENCES ${fk.table} (${fk.to.join(', ')})`,
    );
  }
  const indexes = db
    .prepare(
      "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name",
    )
    .pluck()
    .all(table.name);
  const quoted = `"${table.name.replaceAll('"', '""')}"`;
  const sample = select(db, `SELECT * FROM ${quoted} LIMIT 3`, maxRows);
  return { name: table.name, type: table.type, columns, constraints, indexes, sample };
}
