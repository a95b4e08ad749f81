import { tool } from '@langchain/core/tools';
import { z } from 'zod';

/** ISO-8601 local time with its UTC offset, e.g. 2026-11-24T21:05:00+09:00. */
export function isoInZone(date: Date, timeZone: string): string {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    }).formatToParts(date);
  } catch {
    throw new Error(`Unknown time zone "${timeZone}"; use an IANA name such as Asia/Tokyo.`);
  }
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const offset = part('timeZoneName').replace('GMT', '') || '+00:00';
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${offset}`;
}

export const currentTime = tool(async ({ timezone }) => isoInZone(new Date(), timezone ?? 'UTC'), {
  name: 'current_time',
  description:
    'Returns the current date and time, ISO-8601 with UTC offset, in an IANA time zone (default UTC).',
  schema: z.object({
    timezone: z.string().min(1).max(64).optional().describe('IANA time zone, e.g. Asia/Tokyo'),
  }),
});
