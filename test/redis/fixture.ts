import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { RedisConnections } from '../../src/redis/connection.ts';

/** The Redis the tests use. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A logger that says nothing unless TEST_LOG_LEVEL asks. */
export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** A key prefix no other test uses. */
export function testPrefix(): string {
  return `agentgate-test-${randomBytes(4).toString('hex')}:`;
}

/** Connections named for the test, so that one of them can be found and killed; ready. */
export async function testConnections(
  name = `t${randomBytes(3).toString('hex')}`,
  url = REDIS_URL,
): Promise<RedisConnections> {
  const connections = new RedisConnections({ url, log: testLog, name });
  await connections.ready(5_000);
  return connections;
}

/** A plain connection for inspecting and tampering with keys. */
export function adminRedis(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Kills the server side of the connection named `name` (as a network failure would). */
export async function killConnection(redis: Redis, name: string): Promise<void> {
  const list = (await redis.call('CLIENT', 'LIST')) as string;
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  const id = line?.match(/\bid=(\d+)/)?.[1];
  if (!id) throw new Error(`no Redis client named ${name}`);
  await redis.call('CLIENT', 'KILL', 'ID', id);
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 5_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`${what} not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
