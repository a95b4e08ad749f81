import { describe, expect, it } from 'vitest';
import { dollars, duration, since, usageText } from '../../web/src/format.ts';

/** How the web page words durations, tokens, costs and times (web/src/format.ts). */

describe('duration', () => {
  it('says ms below a second, seconds below a minute, then minutes and seconds', () => {
    expect(duration(0)).toBe('0 ms');
    expect(duration(999.4)).toBe('999 ms');
    expect(duration(1000)).toBe('1.0 s');
    expect(duration(12_345)).toBe('12.3 s');
    expect(duration(125_000)).toBe('2 min 5 s');
  });
});

describe('dollars', () => {
  it('shows cents from a dollar up, and two significant digits below', () => {
    expect(dollars(12.5)).toBe('$12.50');
    expect(dollars(1)).toBe('$1.00');
    expect(dollars(0.25)).toBe('$0.25');
    expect(dollars(0.006)).toBe('$0.0060');
    expect(dollars(0.000123)).toBe('$0.00012');
    expect(dollars(0)).toBe('$0');
  });

  it('shows nothing for a cost that is not one', () => {
    expect(dollars(-1)).toBe('');
    expect(dollars(Number.NaN)).toBe('');
    expect(dollars(Number.POSITIVE_INFINITY)).toBe('');
  });
});

describe('usageText', () => {
  it('gives input and output tokens, and the cost when there is one', () => {
    expect(
      usageText({
        inputTokens: 1204,
        outputTokens: 87,
        totalTokens: 1291,
        cacheReadInputTokens: 0,
        cacheWriteInputTokens: 0,
      }),
    ).toBe('1,204 in · 87 out tokens');
    expect(
      usageText({
        inputTokens: 100,
        outputTokens: 87,
        totalTokens: 1387,
        cacheReadInputTokens: 1100,
        cacheWriteInputTokens: 100,
      }),
    ).toBe('1,300 in (1,100 cached) · 87 out tokens');
    expect(usageText({ inputTokens: 1000, outputTokens: 200, costUsd: 0.006 })).toBe(
      '1,000 in · 200 out tokens · $0.0060',
    );
    expect(usageText({ inputTokens: 10, outputTokens: 2 }, 1.5)).toBe(
      '10 in · 2 out tokens · $1.50',
    );
  });

  it('says nothing without usage', () => {
    expect(usageText(undefined)).toBe('');
    expect(usageText({})).toBe('');
    expect(usageText({ costUsd: -2 })).toBe('');
  });
});

describe('since', () => {
  const now = Date.parse('2026-06-15T12:00:00Z');

  it('counts minutes and hours, then gives the date', () => {
    expect(since('2026-06-15T11:59:30Z', now)).toBe('just now');
    expect(since('2026-06-15T11:55:00Z', now)).toBe('5 min ago');
    expect(since('2026-06-15T09:00:00Z', now)).toBe('3 h ago');
    expect(since('2026-03-12T09:00:00Z', now)).toBe('12 Mar');
    expect(since('2025-12-24T09:00:00Z', now)).toBe('24 Dec 2025');
  });

  it('says nothing for a time that is not one', () => {
    expect(since('yesterday', now)).toBe('');
  });
});
