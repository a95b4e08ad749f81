/**
 * How the page words numbers: durations, token counts and costs in a turn's footer, and
 * when a conversation was last active. Pure functions, so tests check them without a page.
 */

/** A turn's usage as `turn-end` and history carry it; `costUsd` when the gateway prices it. */
export interface Usage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
  costUsd?: number;
}

const integer = new Intl.NumberFormat('en-US');

/** "850 ms", "1.2 s", "2 min 5 s". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/**
 * A cost in US dollars: cents for a dollar or more ("$1.25"), otherwise enough decimals to
 * show two significant digits ("$0.0031"), so small turns do not all read "$0.00".
 */
export function dollars(usd: number): string {
  if (!Number.isFinite(usd) || usd < 0) return '';
  if (usd === 0) return '$0';
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  const decimals = Math.min(8, Math.max(2, 1 - Math.floor(Math.log10(usd))));
  return `$${usd.toFixed(decimals)}`;
}

/**
 * "1,204 in (1,100 cached) · 87 out tokens · $0.0031", or '' when the usage says nothing.
 * "in" counts every input token, those read from and written to the prompt cache too.
 */
export function usageText(usage: Usage | undefined, costUsd?: number): string {
  const parts: string[] = [];
  const {
    inputTokens,
    outputTokens,
    cacheReadInputTokens = 0,
    cacheWriteInputTokens = 0,
  } = usage ?? {};
  if (typeof inputTokens === 'number' && typeof outputTokens === 'number') {
    const input = inputTokens + cacheReadInputTokens + cacheWriteInputTokens;
    const cached =
      cacheReadInputTokens > 0 ? ` (${integer.format(cacheReadInputTokens)} cached)` : '';
    parts.push(`${integer.format(input)} in${cached} · ${integer.format(outputTokens)} out tokens`);
  }
  const cost = usage?.costUsd ?? costUsd;
  if (typeof cost === 'number' && dollars(cost)) parts.push(dollars(cost));
  return parts.join(' · ');
}

/** "just now", "5 min ago", "3 h ago", then the date ("12 Mar"; with the year when not this year). */
export function since(iso: string, now: number = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '';
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  const date = new Date(at);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    ...(sameYear ? {} : { year: 'numeric' }),
  });
}
