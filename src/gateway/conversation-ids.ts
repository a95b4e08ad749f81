import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const RANDOM_BYTES = 12;
const TIME_BYTES = 4;
const TAG_BYTES = 8;
const BODY_BYTES = RANDOM_BYTES + TIME_BYTES;

/** Who a conversation id was issued to, as far as the id itself tells. */
export type IdOwner = 'caller' | 'another user' | 'unknown';

/**
 * Conversation ids that carry a verifiable owner, so that the conversation announced in
 * `ready` belongs to its user on every gateway before anything is stored (no write per
 * connection): `c_` + base64url(random ‖ issue time ‖ issued tag ‖ owner tag), both tags
 * HMACs of random and time under the store's secret. An id is recognised for `lifetimeMs`
 * after its issue (a conversation left that long has expired anyway), and the secret dies
 * with the store's data, so ids issued before a data loss are not recognised after it.
 */
export class ConversationIds {
  readonly #secret: () => Promise<Buffer>;
  readonly #lifetimeMs: number;

  constructor(secret: () => Promise<Buffer>, lifetimeMs: number) {
    this.#secret = secret;
    this.#lifetimeMs = lifetimeMs;
  }

  /** A fresh id for `userId`. */
  async issue(userId: string, now = Date.now()): Promise<string> {
    const secret = await this.#secret();
    const body = Buffer.alloc(BODY_BYTES);
    randomBytes(RANDOM_BYTES).copy(body);
    body.writeUInt32BE(Math.floor(now / 1000), RANDOM_BYTES);
    const tags = [tag(secret, 'issued', body), tag(secret, `owner:${userId}`, body)];
    return `c_${Buffer.concat([body, ...tags]).toString('base64url')}`;
  }

  /**
   * Whether `id` was issued to `userId`, to someone else, or is not one of ours (never
   * issued, issued longer than the lifetime ago, or before the store lost its data).
   */
  async ownerOf(id: string, userId: string, now = Date.now()): Promise<IdOwner> {
    if (!id.startsWith('c_')) return 'unknown';
    const raw = Buffer.from(id.slice(2), 'base64url');
    if (raw.length !== BODY_BYTES + 2 * TAG_BYTES || raw.toString('base64url') !== id.slice(2)) {
      return 'unknown';
    }
    const body = raw.subarray(0, BODY_BYTES);
    if (now - body.readUInt32BE(RANDOM_BYTES) * 1000 > this.#lifetimeMs) return 'unknown';
    const secret = await this.#secret();
    const issued = raw.subarray(BODY_BYTES, BODY_BYTES + TAG_BYTES);
    const owner = raw.subarray(BODY_BYTES + TAG_BYTES);
    if (!timingSafeEqual(issued, tag(secret, 'issued', body))) return 'unknown';
    return timingSafeEqual(owner, tag(secret, `owner:${userId}`, body)) ? 'caller' : 'another user';
  }
}

function tag(secret: Buffer, purpose: string, body: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(purpose)
    .update('\0')
    .update(body)
    .digest()
    .subarray(0, TAG_BYTES);
}
