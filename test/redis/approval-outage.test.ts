import { RunnableLambda } from '@langchain/core/runnables';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApprovalPolicy, askApproval } from '../../src/approvals/ask.ts';
import { RedisApprovals } from '../../src/approvals/redis-approvals.ts';
import type { RedisConnections } from '../../src/redis/connection.ts';
import { testConnections } from './fixture.ts';
import { OwnRedis } from './processes.ts';

// A turn waiting for approval never waits past its deadline, even when Redis goes away
// and its timeout cannot be written: it counts the timeout itself.

let redis: OwnRedis;
let connections: RedisConnections;
beforeAll(async () => {
  redis = await OwnRedis.start();
  connections = await testConnections('approval-outage', redis.url);
}, 30_000);
afterAll(async () => {
  await connections.close();
  await redis.close();
});

describe('approval while Redis is away', () => {
  it('ends the wait with timeout when Redis stops during it', async () => {
    const approvals = new RedisApprovals({
      connections,
      log: pino({ level: 'silent' }),
      prefix: 'outage:',
      ttlSeconds: 60,
    });
    const policy: ApprovalPolicy = { approvals, needed: () => true, timeoutMs: 1_000 };
    const ask = RunnableLambda.from(async (_: unknown, config) =>
      askApproval(
        policy,
        { conversationId: 'c1', turnId: 't1' },
        { toolCallId: 'tu1', name: 'calculator', input: {} },
        config,
      ),
    );
    const started = Date.now();
    const asking = ask.invoke({});
    await new Promise((resolve) => setTimeout(resolve, 200));
    await redis.stop();
    const answer = await asking;
    expect(answer).toEqual({ decision: 'timeout' });
    // The timeout, then at most one failed write of it (a command times out in 3 s).
    expect(Date.now() - started).toBeLessThan(6_000);
  }, 20_000);
});
