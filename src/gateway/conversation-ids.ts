import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const RANDOM_BYTES = 12;
const TAG_BYTES = 8;

/** Who a conversation id was issued to, as far as the id itself tells. */
export type IdOwner = 'caller' | 'another user' | 'unknown';

/**
 * Conversation ids that carry a verifiable owner, so that the conversation announced in
 * `ready` belongs to its user on every gateway before anything is stored (no write per
 * connection): `c_` + base64url(random ‖ issued tag ‖ owner tag), both tags HMACs under the
 * store's secret. The secret dies with the store's data, so ids issued before a data loss
 * are not recognised after it (their conversations are gone: `not_found`).
 */
export class ConversationIds {
  readonly #secret: () => Promise<Buffer>;

  constructor(secret: () => Promise<Buffer>) {
    this.#secret = secret;
  }

  /** A fresh id for `userId`. */
  async issue(userId: string): Promise<string> {
    const secret = await this.#secret();
    const random = randomBytes(RANDOM_BYTES);
    const raw = Buffer.concat([
      random,
      tag(secret, 'issued', random),
      tag(secret, `owner:${userId}`, random),
    ]);
    return `c_${raw.toString('base64url')}`;
  }

  /** Whether `id` was issued to `userId`, to someone else, or not by us (or before a loss). */
  async ownerOf(id: string, userId: string): Promise<IdOwner> {
    if (!id.startsWith('c_')) return 'unknown';
    const raw = Buffer.from(id.slice(2), 'base64url');
    if (raw.length !== RANDOM_BYTES + 2 * TAG_BYTES || raw.toString('base64url') !== id.slice(2)) {
      return 'unknown';
    }
    const secret = await this.#secret();
    const random = raw.subarray(0, RANDOM_BYTES);
    const issued = raw.subarray(RANDOM_BYTES, RANDOM_BYTES + TAG_BYTES);
    const owner = raw.subarray(RANDOM_BYTES + TAG_BYTES);
    if (!timingSafeEqual(issued, tag(secret, 'issued', random))) return 'unknown';
    return timingSafeEqual(owner, tag(secret, `owner:${userId}`, random))
      ? 'caller'
      : 'another user';
  }
}

function tag(secret: Buffer, purpose: string, random: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(purpose)
    .update('\0')
    .update(random)
    .digest()
    .subarray(0, TAG_BYTES);
}
