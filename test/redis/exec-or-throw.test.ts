import type { Redis } from 'ioredis';
import { ReplyError } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execOrThrow } from '../../src/redis/errors.ts';
import { JobStream } from '../../src/redis/job-stream.ts';
import { queueKeys } from '../../src/redis/keys.ts';
import { adminRedis, deletePrefix, testPrefix } from './fixture.ts';

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = adminRedis();
  prefix = testPrefix();
});
afterEach(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

describe('execOrThrow', () => {
  it('returns the replies of a transaction', async () => {
    const replies = await execOrThrow(
      redis.multi().set(`${prefix}a`, '1').get(`${prefix}a`).exec(),
    );
    expect(replies).toEqual(['OK', '1']);
  });

  it('throws the first error inside a transaction, which exec() alone resolves', async () => {
    const key = `${prefix}s`;
    const multi = () => redis.multi().set(key, 'x').lpush(key, 'y').exec();
    // What ioredis does on its own: resolves, with the error tucked into the replies.
    const [, [error]] = (await multi()) as [unknown, [Error | null]];
    expect(error).toBeInstanceOf(ReplyError);
    await expect(execOrThrow(multi())).rejects.toThrow(/WRONGTYPE/);
  });

  it('makes a failed ack of the job stream throw instead of passing silently', async () => {
    const keys = queueKeys(prefix);
    await redis.set(keys.jobs, 'not a stream');
    await expect(new JobStream(redis, keys).ack('1-0')).rejects.toThrow(/WRONGTYPE/);
  });
});
