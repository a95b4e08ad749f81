/**
 * `npm run demo:db`: (re)builds the demo database of the SQL skill, data/demo.sqlite, from the
 * CSV files in data/demo/. The SQL skill builds it by itself when it is missing; run this after
 * editing the CSV files.
 */

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDemoDb, DEMO_DB_PATH } from '../src/skills/sql/demo-db.ts';

export { buildDemoDb, DEMO_DB_PATH };

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const counts = buildDemoDb();
    const rows = Object.entries(counts).map(([table, n]) => `${table} ${n}`);
    console.log(`Built ${path.relative(process.cwd(), DEMO_DB_PATH)}: ${rows.join(', ')} rows.`);
  } catch (error) {
    console.error(`Cannot build the demo database: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
