import { z } from 'zod';
import type { ListPosition } from '../store/history-store.ts';

/** The cursor's content: activity time (ms) and conversation id, as the store orders them. */
const Position = z.tuple([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z.string().min(1).max(200),
]);

/**
 * The `next` / `before` cursor of `GET /v1/conversations`: a store position as base64url
 * JSON. Opaque to clients (they only hand it back), so its form may change; it holds
 * updatedAt and id, so that conversations active in the same millisecond page exactly.
 */
export function encodeCursor(position: ListPosition): string {
  return Buffer.from(JSON.stringify([position.at, position.id])).toString('base64url');
}

/** The position a cursor holds; undefined for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): ListPosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) return undefined;
  try {
    const parsed = Position.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString()));
    return parsed.success ? { at: parsed.data[0], id: parsed.data[1] } : undefined;
  } catch {
    // Not JSON.
    return undefined;
  }
}
