import { randomBytes } from 'node:crypto';

/** A random id with a type prefix: `c_` conversation, `t_` turn, `s_` session. */
export function newId(prefix: 'c' | 't' | 's'): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
