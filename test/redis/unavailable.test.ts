import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisFrameBus } from '../../src/bus/redis-frame-bus.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { RedisJobQueue } from '../../src/queue/redis-job-queue.ts';
import { RedisConnections } from '../../src/redis/connection.ts';
import { RedisHistoryStore } from '../../src/store/redis-history-store.ts';
import { testLog } from './fixture.ts';
import { freePort } from './processes.ts';

// Nothing listens on this port: every call meets a Redis that is down.
let connections: RedisConnections;
let store: RedisHistoryStore;
let bus: RedisFrameBus;
let queue: RedisJobQueue;

beforeAll(async () => {
  const url = `redis://127.0.0.1:${await freePort()}`;
  connections = new RedisConnections({ url, log: testLog });
  const options = { connections, log: testLog, ttlSeconds: 60 };
  store = new RedisHistoryStore({ redis: connections.command, ttlSeconds: 60 });
  bus = new RedisFrameBus(options);
  queue = new RedisJobQueue(options);
});
afterAll(async () => {
  await Promise.all([queue.close(), queue.close(), bus.close(), bus.close(), store.close()]);
  await connections.close();
  await connections.close();
});

const unavailable = { code: 'unavailable', retryable: true };
const start = {
  type: 'turn-start',
  model: 'm',
  agent: 'default',
  userMessage: { content: 'x' },
} as const;
const job = {
  turnId: 't',
  conversationId: 'c',
  userId: 'u',
  content: 'x',
  model: 'm',
  agent: 'default',
  acceptedAt: '',
};

describe('Redis classes while Redis is down', () => {
  it.each([
    ['store.get', () => store.get('c')],
    [
      'store.create',
      () =>
        store.create({ id: 'c', owner: 'u', model: 'm', title: '', createdAt: '', updatedAt: '' }),
    ],
    ['store.messages', () => store.messages('c')],
    ['store.touch', () => store.touch('c', new Date())],
    ['store.list', () => store.list('u', { limit: 20 })],
    ['bus.startTurn', () => bus.startTurn('c', 't', start)],
    ['bus.publish', () => bus.publish('c', 't', { type: 'token', text: 'x' })],
    ['bus.replay', () => bus.replay('c', 0)],
    ['bus.subscribe', () => bus.subscribe('c', () => {})],
    ['queue.enqueue', () => queue.enqueue(job)],
    ['queue.cancel', () => queue.cancel('c', 't')],
  ])('%s fails fast with a retryable unavailable', async (_name, call) => {
    const started = Date.now();
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error).toMatchObject(unavailable);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('fails ping within its timeout', async () => {
    await expect(connections.ping(500)).rejects.toThrow();
  });
});
