import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/config.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, `anonymous` when auth is off. */
    userId: string;
  }
}

export const ANONYMOUS = 'anonymous';

/** The token of a request: `Authorization: Bearer …`, or `?token=` (browsers' upgrades). */
export function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice(7).trim();
  const query = request.query as { token?: unknown } | undefined;
  return typeof query?.token === 'string' ? query.token : undefined;
}

/**
 * The user a token stands for: an API key's user, or the `sub` of an HS256 JWT that is
 * signed with the secret and not expired. Undefined when the token proves nothing.
 */
export function authenticate(auth: Config['auth'], token: string | undefined): string | undefined {
  if (!token) return undefined;
  for (const [key, user] of auth.apiKeys) {
    if (safeEqual(key, token)) return user;
  }
  return auth.jwtSecret ? verifyJwt(token, auth.jwtSecret) : undefined;
}

function verifyJwt(token: string, secret: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  try {
    const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string };
    if (head.alg !== 'HS256') return undefined;
    const expected = createHmac('sha256', secret)
      .update(`${header}.${payload}`)
      .digest('base64url');
    if (!safeEqual(expected, signature)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as {
      sub?: unknown;
      exp?: unknown;
      nbf?: unknown;
    };
    const now = Date.now() / 1000;
    if (typeof claims.exp === 'number' && claims.exp <= now) return undefined;
    if (typeof claims.nbf === 'number' && claims.nbf > now) return undefined;
    return typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : undefined;
  } catch {
    // Not base64url JSON: not a token of ours.
    return undefined;
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
