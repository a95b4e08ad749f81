import { TurnJob } from '../queue/job-queue.ts';

/** One stream entry as Redis returns it: its id and a flat field/value list (nil if deleted). */
export type StreamEntry = [id: string, fields: string[] | null];

/** The entries of an XREADGROUP reply for one stream (nil when the block timed out). */
export function readGroupEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply) || reply.length === 0) return [];
  const [, entries] = reply[0] as [string, StreamEntry[]];
  return entries ?? [];
}

/** The value of `field` in an entry's flat field list. */
export function fieldOf(fields: string[] | null, field: string): string | undefined {
  if (!fields) return undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === field) return fields[i + 1];
  return undefined;
}

/** A job from its JSON, or undefined when it is not one (it is then parked, never run). */
export function parseJob(json: string | undefined): TurnJob | undefined {
  if (json === undefined) return undefined;
  try {
    const parsed = TurnJob.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : undefined;
  } catch {
    // Not JSON at all: the caller parks it with the raw text for a person to look at.
    return undefined;
  }
}
