import { readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DB_PATH, ensureDemoDb } from '../../src/skills/sql/demo-db.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { BEST_SELLER_QUERY } from '../emulator/sql-demo.ts';
import { withGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';

// The seed's flow, end to end with the default agent: "Let me load the SQL skill…", a
// query of the demo shop, and the answer with its numbers, all streamed as frames.

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

const offered = (index: number) =>
  (emulator.requests[index]?.body?.toolConfig?.tools ?? []).map((t) => t.toolSpec?.name);

describe('the SQL skill through the default agent', () => {
  it('loads the skill, queries the demo database and answers with the numbers', async () => {
    ensureDemoDb();
    const db = new Database(DEMO_DB_PATH, { readonly: true });
    const expected = db.prepare(BEST_SELLER_QUERY).get() as { product: string; units_sold: number };
    db.close();
    const instructions = await readFile('skills/sql/SKILL.md', 'utf8');
    const body = instructions.split('---').slice(2).join('---').trim();

    emulator.reset();
    await withGateway(
      {},
      async (gw) => {
        const client = await gw.connect();
        const frames = await client.chat('which product sold best last month?');
        checkTurn(frames);
        await checkStored(client, frames);
        expect(frames[0]).toMatchObject({ type: 'turn-start', agent: 'default' });

        const kinds = frames.map((f) =>
          f.type === 'tool-start' ? `tool-start ${f.name}` : f.type,
        );
        const first = (kind: string) => kinds.indexOf(kind);
        expect(first('token')).toBeLessThan(first('tool-start load_skill'));
        expect(first('tool-start load_skill')).toBeLessThan(first('tool-start sql_query'));
        expect(kinds.lastIndexOf('token')).toBeGreaterThan(first('tool-start sql_query'));

        const [loaded, queried] = frames.filter((f) => f.type === 'tool-end');
        expect(loaded).toMatchObject({ name: 'load_skill', isError: false });
        // The model got the skill's instructions as the tool result.
        expect(loaded!.output).toContain(body.slice(0, 200));
        const results = (emulator.requests[1]?.body?.messages ?? [])
          .flatMap((m) => m.content ?? [])
          .flatMap((b) => b.toolResult?.content ?? [])
          .map((c) => c.text ?? '');
        expect(results.join('')).toContain(body.slice(0, 200));

        expect(queried).toMatchObject({ name: 'sql_query', isError: false });
        expect(queried!.output).toContain(expected.product);
        expect(queried!.output).toContain(String(expected.units_sold));

        const end = frames.at(-1)!;
        expect(end.stopReason).toBe('end_turn');
        expect(end.text).toContain(expected.product);
        expect(end.text).toContain(String(expected.units_sold));

        // The skill's tools are absent until it is loaded, then offered, also next turn.
        expect(offered(0)).toContain('load_skill');
        expect(offered(0)).not.toContain('sql_query');
        expect(offered(1)).toEqual(
          expect.arrayContaining(['list_tables', 'describe_table', 'sql_query']),
        );
        const count = emulator.requests.length;
        checkTurn(await client.chat('thanks!'));
        expect(offered(count)).toContain('sql_query');
      },
      { emulator },
    );
  }, 30_000);
});
