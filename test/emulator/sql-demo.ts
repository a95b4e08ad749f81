/**
 * The demo script's data questions: "which product sold best last month?" makes the model
 * load the `sql` skill, then query the demo shop, then answer with the numbers of the result.
 * "Last month" is the latest month in the data (its data ends with October 2026), so the
 * queries ask the data for it instead of reading today's date.
 */

import type { WireContentBlock, WireMessage } from './types.ts';

export const DATA_QUESTION =
  /\b(sold|sells?|selling|sales|best[- ]?sell\w*|revenue|orders?|customers?)\b/i;
const SUMMARY_QUESTION = /\b(revenue|orders?|customers?)\b/i;
const PRODUCT_QUESTION = /\b(sold|sells?|selling|sales|best[- ]?sell\w*|products?)\b/i;

const LATEST_MONTH =
  "substr(o.ordered_at, 1, 7) = (SELECT substr(MAX(ordered_at), 1, 7) FROM orders) AND o.status NOT IN ('cancelled', 'refunded')";

export const BEST_SELLER_QUERY = [
  'SELECT p.name AS product, SUM(oi.quantity) AS units_sold, substr(o.ordered_at, 1, 7) AS month',
  'FROM order_items oi JOIN orders o ON o.id = oi.order_id JOIN products p ON p.id = oi.product_id',
  `WHERE ${LATEST_MONTH}`,
  'GROUP BY p.id, p.name ORDER BY units_sold DESC, p.name LIMIT 1',
].join('\n');

export const MONTH_SUMMARY_QUERY = [
  'SELECT substr(o.ordered_at, 1, 7) AS month, COUNT(DISTINCT o.id) AS orders,',
  'COUNT(DISTINCT o.customer_id) AS customers,',
  'ROUND(SUM(oi.quantity * oi.unit_price_cents) / 100.0, 2) AS revenue_usd',
  'FROM orders o JOIN order_items oi ON oi.order_id = o.id',
  `WHERE ${LATEST_MONTH}`,
  'GROUP BY month',
].join('\n');

/** The query that answers a data question: the month's totals, or its best seller. */
export function queryFor(question: string): string {
  return SUMMARY_QUESTION.test(question) && !PRODUCT_QUESTION.test(question)
    ? MONTH_SUMMARY_QUERY
    : BEST_SELLER_QUERY;
}

/** The toolUse that a toolResult block answers, from the assistant message before it. */
export function useOf(
  previous: WireMessage | undefined,
  block: WireContentBlock,
): { name?: string; input?: unknown } | undefined {
  return previous?.content?.find(
    (candidate) => candidate.toolUse?.toolUseId === block.toolResult?.toolUseId,
  )?.toolUse;
}

/**
 * Whether a block is a tool result that reports success. ChatBedrockConverse does not send a
 * ToolMessage's status, so a failure is also told by its text: the agent writes "Error: …".
 */
export function succeeded(block: WireContentBlock): boolean {
  if (!block.toolResult || block.toolResult.status === 'error') return false;
  const text = (block.toolResult.content ?? []).map((item) => item.text ?? '').join('');
  return !text.startsWith('Error:');
}

/** Whether an earlier `load_skill {name: 'sql'}` call of the conversation succeeded. */
export function sqlSkillLoaded(messages: readonly WireMessage[]): boolean {
  return messages.some((message, i) =>
    (message.content ?? []).some(
      (block) => succeeded(block) && isLoadSql(useOf(messages[i - 1], block)),
    ),
  );
}

export function isLoadSql(use: { name?: string; input?: unknown } | undefined): boolean {
  return use?.name === 'load_skill' && (use.input as { name?: unknown })?.name === 'sql';
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function monthName(month: unknown): string {
  const match = /^(\d{4})-(\d{2})$/.exec(String(month));
  return match ? `${MONTHS[Number(match[2]) - 1]} ${match[1]}` : String(month);
}

/**
 * The answer to a `sql_query` result of one of the demo queries, with its numbers; undefined
 * when the result is not one (the script then reports the result as it is).
 */
export function answerFromResult(result: string): string | undefined {
  let parsed: { columns?: unknown; rows?: unknown };
  try {
    parsed = JSON.parse(result) as typeof parsed;
  } catch {
    return undefined;
  }
  const columns = Array.isArray(parsed.columns) ? (parsed.columns as string[]) : [];
  const row = Array.isArray(parsed.rows) ? (parsed.rows[0] as unknown[] | undefined) : undefined;
  if (!row) return columns.length > 0 ? 'The query found no rows for that period.' : undefined;
  const value = (name: string) => row[columns.indexOf(name)];
  if (columns.includes('product') && columns.includes('units_sold')) {
    return `In ${monthName(value('month'))}, the best-selling product was ${value('product')} with ${value('units_sold')} units sold.`;
  }
  if (columns.includes('revenue_usd') && columns.includes('orders')) {
    const revenue = Number(value('revenue_usd')).toLocaleString('en-US', {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    return `In ${monthName(value('month'))}, there were ${value('orders')} orders from ${value('customers')} customers, for $${revenue} in revenue.`;
  }
  return undefined;
}
