import { describe, expect, it } from 'vitest';
import { calculator, evaluate, formatNumber } from '../../src/agent/tools/calculator.ts';
import { currentTime, isoInZone } from '../../src/agent/tools/current-time.ts';

describe('evaluate', () => {
  it.each([
    ['1+2*3', 7],
    ['(1+2)*3', 9],
    ['10-4-3', 3],
    ['100/10/5', 2],
    ['7%4*2', 6],
    ['2^3^2', 512],
    ['2**3**2', 512],
    ['(2^3)^2', 64],
    ['2*3^2', 18],
    ['-2^2', -4],
    ['-3+5', 2],
    ['2*-3', -6],
    ['--4', 4],
    ['+5', 5],
    ['2^-1', 0.5],
    ['-(1+2)*3', -9],
    ['((((7))))', 7],
    ['1.5*4', 6],
    ['.5+.25', 0.75],
    ['3.', 3],
    ['1.5e3', 1500],
    ['2E-2', 0.02],
    ['1e+2', 100],
    [' 12 + 30 ', 42],
    ['(12+30)*2', 84],
  ])('evaluates %s to %s', (expression, expected) => {
    expect(evaluate(expression)).toBeCloseTo(expected, 12);
  });

  it.each([
    ['1/0', /division by zero/],
    ['5%0', /division by zero/],
    ['1/(2-2)', /division by zero/],
    ['', /empty/],
    ['   ', /empty/],
    ['1 2', /unexpected "2"/],
    ['2+', /ends too early/],
    ['(1+2', /closing parenthesis/],
    ['1+2)', /unexpected "\)"/],
    ['()', /unexpected "\)"/],
    ['3 apples', /unexpected "a"/],
    ['1e', /unexpected "e"/],
    ['1..2', /unexpected/],
    ['0x10', /unexpected "x"/],
    ['.', /unexpected "\."/],
    ['1e400', /not a finite number/],
    ['10^400', /not a finite number/],
  ])('refuses %j', (expression, why) => {
    expect(() => evaluate(expression)).toThrow(why);
  });

  it.each([
    'process.exit()',
    'constructor',
    'Math.PI',
    'x+1',
    'Infinity',
    'NaN',
    '[]+{}',
    '"1"+1',
    'require("fs")',
    'this',
    '1;2',
    'globalThis.evaluated=1',
  ])('refuses the code %j without running it', (expression) => {
    expect(() => evaluate(expression)).toThrow(/Cannot evaluate/);
    expect((globalThis as { evaluated?: unknown }).evaluated).toBeUndefined();
  });

  it('names the expression in its error', () => {
    expect(() => evaluate('2 +* 3')).toThrow('Cannot evaluate "2 +* 3"');
  });
});

describe('formatNumber', () => {
  it.each([
    [0.1 + 0.2, '0.3'],
    [1 / 3, '0.333333333333'],
    [2 / 3, '0.666666666667'],
    [42, '42'],
    [-7.5, '-7.5'],
    [1e21, '1e+21'],
    [1.23e-7, '1.23e-7'],
    [-0, '0'],
    [123456789012, '123456789012'],
  ])('formats %s as %s', (value, expected) => {
    expect(formatNumber(value)).toBe(expected);
  });
});

describe('calculator tool', () => {
  it('is named calculator', () => {
    expect(calculator.name).toBe('calculator');
  });

  it('answers with the formatted result', async () => {
    expect(await calculator.invoke({ expression: '0.1+0.2' })).toBe('0.3');
    expect(await calculator.invoke({ expression: '(12+30)*2' })).toBe('84');
  });

  it('rejects an expression it cannot evaluate', async () => {
    await expect(calculator.invoke({ expression: '1/0' })).rejects.toThrow(/division by zero/);
    await expect(calculator.invoke({ expression: 'process.exit()' })).rejects.toThrow(
      /Cannot evaluate/,
    );
  });

  it('rejects input that does not match its schema', async () => {
    await expect(calculator.invoke({ expression: '' })).rejects.toThrow();
    await expect(calculator.invoke({ expression: '1'.repeat(1001) })).rejects.toThrow();
  });
});

describe('isoInZone', () => {
  const winter = new Date('2026-01-15T12:00:00Z');
  const summer = new Date('2026-07-01T12:00:00Z');

  it.each([
    ['UTC', winter, '2026-01-15T12:00:00+00:00'],
    ['UTC', summer, '2026-07-01T12:00:00+00:00'],
    ['Asia/Tokyo', winter, '2026-01-15T21:00:00+09:00'],
    ['Asia/Kolkata', winter, '2026-01-15T17:30:00+05:30'],
    ['Asia/Kathmandu', summer, '2026-07-01T17:45:00+05:45'],
    ['America/New_York', winter, '2026-01-15T07:00:00-05:00'],
    ['America/New_York', summer, '2026-07-01T08:00:00-04:00'],
    ['Europe/London', winter, '2026-01-15T12:00:00+00:00'],
    ['Europe/London', summer, '2026-07-01T13:00:00+01:00'],
    ['Europe/Berlin', summer, '2026-07-01T14:00:00+02:00'],
    ['Australia/Sydney', winter, '2026-01-15T23:00:00+11:00'],
    ['Australia/Sydney', summer, '2026-07-01T22:00:00+10:00'],
    ['America/St_Johns', winter, '2026-01-15T08:30:00-03:30'],
    ['America/St_Johns', summer, '2026-07-01T09:30:00-02:30'],
  ])('shows %s at %o as %s', (zone, date, expected) => {
    expect(isoInZone(date, zone)).toBe(expected);
  });

  it('writes midnight as 00, not 24, and rolls the date', () => {
    expect(isoInZone(new Date('2026-02-28T15:00:00Z'), 'Asia/Tokyo')).toBe(
      '2026-03-01T00:00:00+09:00',
    );
  });

  it('rolls the date back across the date line', () => {
    expect(isoInZone(new Date('2026-01-01T05:30:00Z'), 'Pacific/Honolulu')).toBe(
      '2025-12-31T19:30:00-10:00',
    );
  });

  it('follows a DST change within one day', () => {
    // US DST starts 2026-03-08 at 02:00 local (07:00Z).
    expect(isoInZone(new Date('2026-03-08T06:59:59Z'), 'America/New_York')).toBe(
      '2026-03-08T01:59:59-05:00',
    );
    expect(isoInZone(new Date('2026-03-08T07:00:00Z'), 'America/New_York')).toBe(
      '2026-03-08T03:00:00-04:00',
    );
  });

  it('writes a time that parses back to the same instant', () => {
    const date = new Date('2026-11-24T21:05:07Z');
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/Los_Angeles', 'Pacific/Chatham']) {
      expect(new Date(isoInZone(date, zone)).getTime(), zone).toBe(date.getTime());
    }
  });

  it('throws on an unknown zone, naming it', () => {
    expect(() => isoInZone(winter, 'Mars/Olympus_Mons')).toThrow('"Mars/Olympus_Mons"');
    expect(() => isoInZone(winter, 'not a zone')).toThrow(/Unknown time zone "not a zone"/);
  });
});

/** The output, to the second, lies between `before` and now (within a second of now). */
function expectNow(output: string, before: number): void {
  const at = new Date(output).getTime();
  expect(Number.isNaN(at)).toBe(false);
  expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
  expect(at).toBeLessThanOrEqual(Date.now());
}

describe('current_time tool', () => {
  it('is named current_time', () => {
    expect(currentTime.name).toBe('current_time');
  });

  it('answers with the time now in the given zone', async () => {
    const before = Date.now();
    const output = await currentTime.invoke({ timezone: 'Asia/Kolkata' });
    expect(output).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+05:30$/);
    expectNow(output, before);
  });

  it('answers in UTC when no zone is given', async () => {
    const before = Date.now();
    const output = await currentTime.invoke({});
    expect(output).toMatch(/\+00:00$/);
    expectNow(output, before);
  });

  it('rejects an unknown zone', async () => {
    await expect(currentTime.invoke({ timezone: 'Nowhere/Land' })).rejects.toThrow(
      '"Nowhere/Land"',
    );
  });
});
