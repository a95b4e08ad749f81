import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backends, createBackends } from '../../src/backends.ts';
import { loadConfig } from '../../src/config/config.ts';
import { captureLogs } from '../helpers/env.ts';
import { adminRedis, deletePrefix, eventually, REDIS_URL, testLog, testPrefix } from './fixture.ts';

let admin: Redis;
let prefix: string;

beforeAll(() => {
  admin = adminRedis();
  prefix = testPrefix();
});
afterAll(async () => {
  await deletePrefix(admin, prefix);
  admin.disconnect();
});

/** Names of this process's connections (`agentgate-<pid>-<purpose>`) in CLIENT LIST, sorted. */
async function ownConnections(): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  const own = `agentgate-${process.pid}-`;
  return list
    .split('\n')
    .map((line) => line.match(/\bname=(\S+)/)?.[1])
    .filter((name): name is string => name?.startsWith(own) === true)
    .map((name) => name.slice(own.length))
    .sort();
}

describe('the Redis connections of a process', () => {
  let backends: Backends;

  it('uses one connection each for commands, frame and cancel subscriptions and blocking reads', async () => {
    const config = loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    backends = await createBackends(config, testLog);
    await backends.queue.consume(async () => {});
    backends.queue.watchLost(async () => {});
    await backends.bus.subscribe('c_conn', () => {});
    await eventually(async () => (await ownConnections()).length === 4, 5_000, 'four connections');
    expect(await ownConnections()).toEqual(['commands', 'control', 'frames', 'jobs']);
    // The subscriptions and the blocking read each hold their own connection.
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    const line = (purpose: string) =>
      list.split('\n').find((l) => l.includes(` name=agentgate-${process.pid}-${purpose} `)) ?? '';
    expect(line('frames')).toMatch(/\bsub=1\b/);
    expect(line('control')).toMatch(/\bsub=1\b/);
    expect(line('commands')).toMatch(/\bsub=0\b/);
    await eventually(
      async () =>
        /\bcmd=xreadgroup\b/.test(
          ((await admin.call('CLIENT', 'LIST')) as string)
            .split('\n')
            .find((l) => l.includes(` name=agentgate-${process.pid}-jobs `)) ?? '',
        ),
      5_000,
      'the blocking read on the jobs connection',
    );
  });

  it('closes every one of them on shutdown', async () => {
    await backends.close();
    expect(await ownConnections()).toEqual([]);
  });
});

describe('closing right after start-up', () => {
  it('warns of nothing: the connections still connecting are closed on purpose', async () => {
    const config = loadConfig({ REDIS_URL, REDIS_KEY_PREFIX: prefix });
    const warnings: string[] = [];
    // A connection is caught mid-handshake only now and then: ten starts make it likely.
    for (let i = 0; i < 10; i++) {
      const { lines, sink } = captureLogs();
      const backends = await createBackends(config, pino({ level: 'debug' }, sink));
      backends.queue.watchLost(async () => {});
      // As a worker whose port is taken: a moment of start-up, then it closes.
      await new Promise((resolve) => setTimeout(resolve, 1));
      await backends.close();
      for (const line of lines.map((l) => JSON.parse(l))) {
        if (line.level >= 40)
          warnings.push(`${line.connection}: ${line.msg}: ${line.err?.message}`);
      }
    }
    expect(warnings).toEqual([]);
  });
});
