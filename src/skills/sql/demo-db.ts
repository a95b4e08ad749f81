import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

/** The repo's CSV files of the demo shop: committed, so the database can always be rebuilt. */
export const DEMO_CSV_DIR = fileURLToPath(new URL('../../../data/demo', import.meta.url));
/** Where the demo database is built (gitignored); SQL_DATABASE_URL's default names it. */
export const DEMO_DB_PATH = fileURLToPath(new URL('../../../data/demo.sqlite', import.meta.url));

type Column = { name: string; type: 'INTEGER' | 'TEXT'; nullable?: boolean };

/**
 * The demo shop, an online coffee roaster: its tables in load order (each CSV's header
 * must list exactly these columns). Money is in cents; times are UTC text.
 */
const TABLES: { name: string; columns: Column[]; constraints: string[]; indexes: string[] }[] = [
  {
    name: 'products',
    columns: [
      { name: 'id', type: 'INTEGER' },
      { name: 'name', type: 'TEXT' },
      { name: 'category', type: 'TEXT' },
      { name: 'origin', type: 'TEXT', nullable: true },
      { name: 'roast', type: 'TEXT', nullable: true },
      { name: 'weight_grams', type: 'INTEGER', nullable: true },
      { name: 'price_cents', type: 'INTEGER' },
      { name: 'launched_on', type: 'TEXT' },
    ],
    constraints: ['PRIMARY KEY (id)', 'UNIQUE (name)'],
    indexes: [],
  },
  {
    name: 'customers',
    columns: [
      { name: 'id', type: 'INTEGER' },
      { name: 'name', type: 'TEXT' },
      { name: 'email', type: 'TEXT' },
      { name: 'city', type: 'TEXT' },
      { name: 'country', type: 'TEXT' },
      { name: 'signed_up_on', type: 'TEXT' },
    ],
    constraints: ['PRIMARY KEY (id)', 'UNIQUE (email)'],
    indexes: [],
  },
  {
    name: 'orders',
    columns: [
      { name: 'id', type: 'INTEGER' },
      { name: 'customer_id', type: 'INTEGER' },
      { name: 'ordered_at', type: 'TEXT' },
      { name: 'status', type: 'TEXT' },
      { name: 'shipping_cents', type: 'INTEGER' },
    ],
    constraints: [
      'PRIMARY KEY (id)',
      'FOREIGN KEY (customer_id) REFERENCES customers (id)',
      "CHECK (status IN ('delivered', 'shipped', 'cancelled', 'refunded'))",
    ],
    indexes: [
      'CREATE INDEX orders_ordered_at ON orders (ordered_at)',
      'CREATE INDEX orders_customer ON orders (customer_id)',
    ],
  },
  {
    name: 'order_items',
    columns: [
      { name: 'order_id', type: 'INTEGER' },
      { name: 'product_id', type: 'INTEGER' },
      { name: 'quantity', type: 'INTEGER' },
      { name: 'unit_price_cents', type: 'INTEGER' },
    ],
    constraints: [
      'PRIMARY KEY (order_id, product_id)',
      'FOREIGN KEY (order_id) REFERENCES orders (id)',
      'FOREIGN KEY (product_id) REFERENCES products (id)',
      'CHECK (quantity > 0)',
    ],
    indexes: ['CREATE INDEX order_items_product ON order_items (product_id)'],
  },
];

export const DEMO_TABLES: readonly string[] = TABLES.map((table) => table.name);

/**
 * Builds the demo database at `outFile` from the CSV files of `csvDir` and returns the rows
 * loaded per table. The file is written beside the target under a temporary name and renamed
 * over it at the end, so nobody ever opens a half-built database; building again gives the
 * same database. A bad CSV throws an error naming its file and line, and leaves no file.
 */
export function buildDemoDb(
  options: { csvDir?: string; outFile?: string } = {},
): Record<string, number> {
  const csvDir = options.csvDir ?? DEMO_CSV_DIR;
  const outFile = options.outFile ?? DEMO_DB_PATH;
  const temp = `${outFile}.${process.pid}.${Date.now()}.tmp`;
  const counts: Record<string, number> = {};
  const db = new Database(temp);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('foreign_keys = ON');
    db.transaction(() => {
      for (const table of TABLES) {
        const columns = table.columns.map(
          (c) => `${c.name} ${c.type}${c.nullable ? '' : ' NOT NULL'}`,
        );
        db.exec(`CREATE TABLE ${table.name} (${[...columns, ...table.constraints].join(', ')})`);
        for (const index of table.indexes) db.exec(index);
        counts[table.name] = loadCsv(
          db,
          path.join(csvDir, `${table.name}.csv`),
          table.columns,
          table.name,
        );
      }
    })();
    const problems = db.pragma('foreign_key_check') as unknown[];
    if (problems.length > 0) {
      throw new Error(
        `The demo CSV files in ${csvDir} hold ${problems.length} rows whose references point nowhere.`,
      );
    }
    db.close();
    renameSync(temp, outFile);
  } catch (error) {
    if (db.open) db.close();
    rmSync(temp, { force: true });
    throw error;
  }
  return counts;
}

/** Builds the demo database unless it exists; true when it built it. */
export function ensureDemoDb(outFile = DEMO_DB_PATH): boolean {
  if (existsSync(outFile)) return false;
  buildDemoDb({ outFile });
  return true;
}

function loadCsv(db: Database.Database, file: string, columns: Column[], table: string): number {
  const rows = parseCsv(readFileSync(file, 'utf8'), file);
  const header = rows.shift()?.values ?? [];
  const expected = columns.map((c) => c.name);
  if (header.join(',') !== expected.join(',')) {
    throw new Error(
      `${file}:1: the header must be ${expected.join(',')} (it is ${header.join(',')}).`,
    );
  }
  const insert = db.prepare(
    `INSERT INTO ${table} (${expected.join(', ')}) VALUES (${expected.map(() => '?').join(', ')})`,
  );
  for (const { line, values } of rows) {
    if (values.length !== columns.length) {
      throw new Error(
        `${file}:${line}: ${values.length} fields; the header has ${columns.length}.`,
      );
    }
    const params = values.map((value, i) => {
      const column = columns[i]!;
      if (value === '') {
        if (column.nullable) return null;
        throw new Error(`${file}:${line}: "${column.name}" is empty.`);
      }
      if (column.type === 'TEXT') return value;
      if (!/^-?\d+$/.test(value)) {
        throw new Error(
          `${file}:${line}: "${column.name}" must be a whole number, not "${value}".`,
        );
      }
      return Number(value);
    });
    try {
      insert.run(params);
    } catch (error) {
      throw new Error(`${file}:${line}: ${(error as Error).message}`);
    }
  }
  return rows.length;
}

/** RFC 4180 CSV: fields may be quoted, with "" for a quote; each record keeps its line number. */
export function parseCsv(text: string, file: string): { line: number; values: string[] }[] {
  const records: { line: number; values: string[] }[] = [];
  let values: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let i = 0;
  const endRecord = () => {
    values.push(field);
    if (!(values.length === 1 && values[0] === '')) records.push({ line: start, values });
    values = [];
    field = '';
  };
  while (i < text.length) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (char === '"') quoted = false;
      else {
        if (char === '\n') line++;
        field += char;
      }
      i++;
      continue;
    }
    if (char === '"' && field === '') quoted = true;
    else if (char === ',') {
      values.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      start = line;
    } else field += char;
    i++;
  }
  if (quoted) throw new Error(`${file}:${start}: a quoted field is never closed.`);
  if (field !== '' || values.length > 0) endRecord();
  return records;
}
