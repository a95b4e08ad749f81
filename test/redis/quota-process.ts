import pino from 'pino';
import { RedisCallQuota } from '../../src/quota/redis-call-quota.ts';
import { RedisConnections } from '../../src/redis/connection.ts';

// A process that takes the one slot of key `m`, says `held`, then waits for another slot
// behind its own, until the test kills it. Env: REDIS_URL, REDIS_KEY_PREFIX, QUOTA_LEASE_MS,
// QUOTA_POLL_MS.
const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set.`);
  return value;
};
const log = pino({ level: 'warn' });
const connections = new RedisConnections({ url: env('REDIS_URL'), log, name: 'quota-process' });
await connections.ready(5_000);
const quota = new RedisCallQuota({
  connections,
  log,
  prefix: env('REDIS_KEY_PREFIX'),
  max: 1,
  leaseMs: Number(env('QUOTA_LEASE_MS')),
  pollMs: Number(env('QUOTA_POLL_MS')),
});
await quota.acquire('m');
console.log('held');
await quota.acquire('m');
console.log('held twice');
