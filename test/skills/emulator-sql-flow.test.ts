import path from 'node:path';
import Database from 'better-sqlite3';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoadSkillTool } from '../../src/skills/load-skill.ts';
import { loadSkills } from '../../src/skills/skills.ts';
import { DEMO_DB_PATH, ensureDemoDb } from '../../src/skills/sql/demo-db.ts';
import { createSqlTools } from '../../src/skills/sql/index.ts';
import { defaultReply } from '../emulator/default-script.ts';
import { BEST_SELLER_QUERY, MONTH_SUMMARY_QUERY } from '../emulator/sql-demo.ts';
import type {
  ConverseRequestBody,
  MessageReply,
  ToolUseBlock,
  WireMessage,
} from '../emulator/types.ts';
import { repoRoot } from '../helpers/docs.ts';

const QUESTION = 'Which product sold best last month?';
const SKILL_TOOLS = ['current_time', 'calculator', 'load_skill'];
const WITH_SQL = [...SKILL_TOOLS, 'list_tables', 'describe_table', 'sql_query'];

function body(messages: WireMessage[], tools: string[]): ConverseRequestBody {
  return { messages, toolConfig: { tools: tools.map((name) => ({ toolSpec: { name } })) } };
}

function user(text: string): WireMessage {
  return { role: 'user', content: [{ text }] };
}

function toolUse(reply: MessageReply): NonNullable<ToolUseBlock['toolUse']> {
  const block = reply.blocks.find((b): b is ToolUseBlock => 'toolUse' in b);
  if (!block) throw new Error(`no tool use in ${JSON.stringify(reply)}`);
  return block.toolUse;
}

function textOf(reply: MessageReply): string {
  return reply.blocks.flatMap((b) => ('text' in b ? [b.text] : [])).join('');
}

/** The assistant message of a reply, and the user message carrying the tool's result. */
function exchange(reply: MessageReply, result: string, status?: 'error'): WireMessage[] {
  const use = toolUse(reply);
  return [
    {
      role: 'assistant',
      content: reply.blocks.map((b) =>
        'toolUse' in b ? { toolUse: b.toolUse } : { text: (b as { text: string }).text },
      ),
    },
    {
      role: 'user',
      content: [
        {
          toolResult: {
            toolUseId: use.toolUseId,
            content: [{ text: result }],
            ...(status ? { status } : {}),
          },
        },
      ],
    },
  ];
}

const log = pino({ level: 'silent' });
let sql: ReturnType<typeof createSqlTools>;
let db: Database.Database;

beforeAll(() => {
  ensureDemoDb();
  sql = createSqlTools({ url: `sqlite:${DEMO_DB_PATH}`, maxRows: 200, timeoutMs: 10_000, log });
  db = new Database(DEMO_DB_PATH, { readonly: true });
});
afterAll(async () => {
  await sql.close();
  db.close();
});

async function runSql(query: string): Promise<string> {
  const tool = sql.tools.find((t) => t.name === 'sql_query')!;
  return tool.invoke({ query });
}

describe('the emulator’s demo flow for data questions', () => {
  it('loads the sql skill, queries the data, then answers with the result’s numbers', async () => {
    const ask = user(QUESTION);
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    expect(textOf(first)).toBe('Let me load the SQL skill.');
    expect(toolUse(first)).toEqual({
      toolUseId: expect.stringMatching(/^tooluse_[\w-]{22}$/),
      name: 'load_skill',
      input: { name: 'sql' },
    });
    // Deterministic ids: the same conversation gets the same reply.
    expect(defaultReply(body([ask], SKILL_TOOLS), 0)).toEqual(first);

    // The real load_skill tool answers, and the skill's tools are now offered.
    const skills = await loadSkills(path.join(repoRoot, 'skills'));
    const instructions = await createLoadSkillTool(skills).invoke({ name: 'sql' });
    const afterLoad = [ask, ...exchange(first, instructions)];
    const second = defaultReply(body(afterLoad, WITH_SQL), 0);
    expect(textOf(second)).toBe('Let me query the shop data.');
    expect(toolUse(second)).toMatchObject({
      name: 'sql_query',
      input: { query: BEST_SELLER_QUERY },
    });

    // The real sql_query runs the emulator's query on the demo database.
    const result = await runSql(BEST_SELLER_QUERY);
    const third = defaultReply(body([...afterLoad, ...exchange(second, result)], WITH_SQL), 0);
    const expected = db
      .prepare(
        `SELECT p.name, SUM(oi.quantity) AS units FROM order_items oi
           JOIN orders o ON o.id = oi.order_id JOIN products p ON p.id = oi.product_id
          WHERE o.ordered_at >= '2026-10-01' AND o.ordered_at < '2026-11-01'
            AND o.status NOT IN ('cancelled', 'refunded')
          GROUP BY p.id ORDER BY units DESC, p.name LIMIT 1`,
      )
      .get() as { name: string; units: number };
    expect(textOf(third)).toBe(
      `In October 2026, the best-selling product was ${expected.name} with ${expected.units} units sold.`,
    );
    expect(third.blocks).toHaveLength(1);
    // Streamed at the demo's pace, like the other demo replies.
    expect(defaultReply(body([...afterLoad, ...exchange(second, result)], WITH_SQL)).delayMs).toBe(
      20,
    );
  });

  it('answers revenue questions with the month’s orders, customers and revenue', async () => {
    const ask = user('How much revenue did we make last month, and from how many orders?');
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    const afterLoad = [ask, ...exchange(first, 'instructions')];
    const second = defaultReply(body(afterLoad, WITH_SQL), 0);
    expect(toolUse(second).input).toEqual({ query: MONTH_SUMMARY_QUERY });
    const result = await runSql(MONTH_SUMMARY_QUERY);
    const third = defaultReply(body([...afterLoad, ...exchange(second, result)], WITH_SQL), 0);
    const row = db
      .prepare(
        `SELECT COUNT(DISTINCT o.id) AS orders, COUNT(DISTINCT o.customer_id) AS customers,
                SUM(oi.quantity * oi.unit_price_cents) AS cents
           FROM orders o JOIN order_items oi ON oi.order_id = o.id
          WHERE o.ordered_at LIKE '2026-10-%' AND o.status NOT IN ('cancelled', 'refunded')`,
      )
      .get() as { orders: number; customers: number; cents: number };
    const dollars = (row.cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2 });
    expect(textOf(third)).toBe(
      `In October 2026, there were ${row.orders} orders from ${row.customers} customers, for $${dollars} in revenue.`,
    );
  });

  it('queries at once when the skill was loaded in an earlier turn', () => {
    const ask = user(QUESTION);
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    const earlier = [
      ask,
      ...exchange(first, 'instructions'),
      { role: 'assistant', content: [{ text: 'Done.' }] },
    ];
    const again = defaultReply(
      body([...earlier, user('And which sold best overall?')], WITH_SQL),
      0,
    );
    expect(toolUse(again).name).toBe('sql_query');
  });

  // ChatBedrockConverse sends no status: a failure shows only in the agent's "Error: …" text.
  it.each([
    ['with status error', 'Unknown skill "sql".', 'error' as const],
    ['told by its text only', 'Error: Unknown skill "sql".', undefined],
  ])('loads the skill again when the earlier load failed (%s)', (_case, text, status) => {
    const ask = user(QUESTION);
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    const failed = [
      ask,
      ...exchange(first, text, status),
      { role: 'assistant', content: [{ text: 'Sorry.' }] },
    ];
    const again = defaultReply(body([...failed, user(QUESTION)], SKILL_TOOLS), 0);
    expect(toolUse(again)).toMatchObject({ name: 'load_skill', input: { name: 'sql' } });
    // And right after the failed load, no query either.
    const next = defaultReply(body([ask, ...exchange(first, text, status)], WITH_SQL), 0);
    expect(next.blocks.some((b) => 'toolUse' in b)).toBe(false);
  });

  it('reports a failed load or query instead of going on', () => {
    const ask = user(QUESTION);
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    const failedLoad = defaultReply(
      body([ask, ...exchange(first, 'Unknown skill "sql".', 'error')], WITH_SQL),
      0,
    );
    expect(textOf(failedLoad)).toBe('The load_skill failed: Unknown skill "sql".');
    const afterLoad = [ask, ...exchange(first, 'instructions')];
    const second = defaultReply(body(afterLoad, WITH_SQL), 0);
    const failedQuery = defaultReply(
      body([...afterLoad, ...exchange(second, 'Error: The query took longer', 'error')], WITH_SQL),
      0,
    );
    expect(textOf(failedQuery)).toBe('The sql_query failed: Error: The query took longer');
  });

  it('does not call sql_query when it is not offered after loading', () => {
    const ask = user(QUESTION);
    const first = defaultReply(body([ask], SKILL_TOOLS), 0);
    const next = defaultReply(body([ask, ...exchange(first, 'instructions')], SKILL_TOOLS), 0);
    expect(next.blocks.some((b) => 'toolUse' in b)).toBe(false);
    expect(textOf(next)).toMatch(/^The load_skill tool returned: instructions/);
  });

  it('keeps data questions out of conversations without load_skill or sql_query', () => {
    const reply = defaultReply(body([user(QUESTION)], ['current_time', 'calculator']), 0);
    expect(reply.blocks.some((b) => 'toolUse' in b)).toBe(false);
    expect(textOf(reply)).toMatch(/^You said: "Which product sold best last month\?"/);
  });

  it('keeps the time and calculator flows when load_skill is offered', () => {
    const time = defaultReply(body([user('What time is it in Tokyo?')], WITH_SQL), 0);
    expect(toolUse(time)).toMatchObject({
      name: 'current_time',
      input: { timezone: 'Asia/Tokyo' },
    });
    const sum = defaultReply(body([user('what is (12+30)*2?')], WITH_SQL), 0);
    expect(toolUse(sum)).toMatchObject({ name: 'calculator', input: { expression: '(12+30)*2' } });
  });
});
