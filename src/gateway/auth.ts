import { createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { errors, jwtVerify } from 'jose';
import type { Config } from '../config/config.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, `anonymous` when auth is off. */
    userId: string;
  }
}

export const ANONYMOUS = 'anonymous';

/**
 * Prefix of the users that JWTs stand for. API-key user names cannot contain ':' (the
 * config refuses them), so a token's `sub` can never pass for an API-key user.
 */
export const JWT_USER_PREFIX = 'jwt:';

/** Longest `sub` accepted, in characters: it names the user in logs, metrics and Redis. */
export const MAX_SUBJECT_CHARS = 256;

// The auth scheme is case-insensitive (RFC 7235 §2.1); one or more spaces before the token.
const BEARER = /^bearer +(\S+) *$/i;
const CONTROL = /\p{Cc}/u;

/** The token of a request: `Authorization: Bearer …`, or `?token=` (browsers' upgrades). */
export function tokenOf(request: FastifyRequest): string | undefined {
  const bearer = BEARER.exec(request.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const query = request.query as { token?: unknown } | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/**
 * The user a token stands for: an API key's user, or `jwt:<sub>` of an HS256 JWT signed
 * with the secret, with a numeric `exp` in the future, `nbf` (if any) past, and `iss` /
 * `aud` as configured. Undefined when the token proves nothing.
 */
export async function authenticate(
  auth: Config['auth'],
  token: string | undefined,
): Promise<string | undefined> {
  if (!token) return undefined;
  for (const [key, user] of auth.apiKeys) {
    if (safeEqual(key, token)) return user;
  }
  const key = secretKeyOf(auth);
  return key ? verifyJwt(token, key, auth) : undefined;
}

async function verifyJwt(
  token: string,
  key: KeyObject,
  auth: Config['auth'],
): Promise<string | undefined> {
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
      ...(auth.jwtIssuer === undefined ? {} : { issuer: auth.jwtIssuer }),
      ...(auth.jwtAudience === undefined ? {} : { audience: auth.jwtAudience }),
    });
    return isSubject(payload.sub) ? `${JWT_USER_PREFIX}${payload.sub}` : undefined;
  } catch (error) {
    // Every jose error means "this token proves nothing"; anything else is a bug.
    if (error instanceof errors.JOSEError) return undefined;
    throw error;
  }
}

/** A string of 1–256 characters (code points), none of them a control character. */
function isSubject(sub: unknown): sub is string {
  // jose checks that `sub` is present, not that it is a string.
  if (typeof sub !== 'string') return false;
  const length = [...sub].length;
  return length >= 1 && length <= MAX_SUBJECT_CHARS && !CONTROL.test(sub);
}

// One key per auth config, made on first use rather than per request. jose keeps the
// CryptoKey it derives from a KeyObject, so the key is imported once too.
const secretKeys = new WeakMap<Config['auth'], KeyObject>();

function secretKeyOf(auth: Config['auth']): KeyObject | undefined {
  if (auth.jwtSecret === undefined) return undefined;
  let key = secretKeys.get(auth);
  if (!key) {
    key = createSecretKey(auth.jwtSecret, 'utf8');
    secretKeys.set(auth, key);
  }
  return key;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
