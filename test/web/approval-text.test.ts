import { describe, expect, it } from 'vitest';
import { decisionText, timeLeft } from '../../web/src/approval.ts';

/** The words of the web page's approval cards (web/src/approval.ts). */

const NOW = Date.parse('2025-06-01T12:00:00.000Z');
const fromNow = (ms: number) => new Date(NOW + ms).toISOString();

describe('timeLeft', () => {
  it('counts seconds, then minutes, then hours, rounding up to the next second', () => {
    expect(timeLeft(fromNow(42_000), NOW)).toBe('42 s left');
    expect(timeLeft(fromNow(41_001), NOW)).toBe('42 s left');
    expect(timeLeft(fromNow(1), NOW)).toBe('1 s left');
    expect(timeLeft(fromNow(59_999), NOW)).toBe('1:00 left');
    expect(timeLeft(fromNow(60_000), NOW)).toBe('1:00 left');
    expect(timeLeft(fromNow(245_000), NOW)).toBe('4:05 left');
    expect(timeLeft(fromNow(3_599_000), NOW)).toBe('59:59 left');
    expect(timeLeft(fromNow(3_723_000), NOW)).toBe('1:02:03 left');
  });

  it('says expired at the deadline and after it', () => {
    expect(timeLeft(fromNow(0), NOW)).toBe('expired');
    expect(timeLeft(fromNow(-5_000), NOW)).toBe('expired');
  });

  it('says nothing for a deadline that is not a date', () => {
    expect(timeLeft('soon', NOW)).toBe('');
  });

  it('counts from the present by default', () => {
    expect(timeLeft(new Date(Date.now() + 30_000).toISOString())).toMatch(/^(30|29) s left$/);
  });
});

describe('decisionText', () => {
  it('names who decided, and why when they said', () => {
    expect(decisionText({ decision: 'approve', decidedBy: 'alice' })).toBe('Approved by alice');
    expect(decisionText({ decision: 'reject', decidedBy: 'bob', reason: 'not today' })).toBe(
      'Rejected by bob: not today',
    );
    expect(decisionText({ decision: 'approve', decidedBy: 'alice', reason: 'ok' })).toBe(
      'Approved by alice: ok',
    );
  });

  it('says timed out and cancelled without a person', () => {
    expect(decisionText({ decision: 'timeout' })).toBe('Timed out');
    expect(decisionText({ decision: 'cancelled' })).toBe('Cancelled');
  });

  it('shows a decision it does not know as it came', () => {
    expect(decisionText({ decision: 'escalated' })).toBe('escalated');
    expect(decisionText({ decision: 'constructor' })).toBe('constructor');
  });
});
