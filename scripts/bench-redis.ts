/**
 * Benchmark of the Redis backends against a local Redis (REDIS_URL, default
 * redis://127.0.0.1:6379), with fixed inputs:
 *   - turn commit latency: 2,000 commits of a 4-message turn (one at a time);
 *   - history load latency: 2,000 loads of a 40-message history (decoded to messages);
 *   - frames per second through the bus: 20,000 token frames over 50 conversations,
 *     published by one process, counted by a subscriber on its own connections.
 * Run: npx tsx scripts/bench-redis.ts. Uses its own key prefix and deletes it afterwards.
 */
import { randomBytes } from 'node:crypto';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import pino from 'pino';
import type { PublishedFrame } from '../src/bus/frame-bus.ts';
import { RedisFrameBus } from '../src/bus/redis-frame-bus.ts';
import { RedisConnections } from '../src/redis/connection.ts';
import { RedisHistoryStore } from '../src/store/redis-history-store.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const COMMITS = 2_000;
const LOADS = 2_000;
const FRAMES = 20_000;
const CONVERSATIONS = 50;

const log = pino({ level: 'warn' });
const prefix = `agentgate-bench-${randomBytes(4).toString('hex')}:`;
const ttlSeconds = 3600;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function summary(name: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  const ms = (v: number) => `${v.toFixed(3)} ms`;
  return `${name.padEnd(34)} p50 ${ms(percentile(sorted, 50))}   p99 ${ms(percentile(sorted, 99))}`;
}

const turn = (i: number) => [
  new HumanMessage(`What is ${i} times 7? Please show the working.`),
  new AIMessage({
    content: 'Let me calculate that.',
    tool_calls: [{ id: `tu_${i}`, name: 'calculator', args: { expression: `${i}*7` } }],
  }),
  new ToolMessage({ content: String(i * 7), tool_call_id: `tu_${i}`, name: 'calculator' }),
  new AIMessage(`${i} times 7 is ${i * 7}.`),
];

async function meta(store: RedisHistoryStore, id: string) {
  const now = new Date().toISOString();
  await store.create({
    id,
    owner: 'bench',
    model: 'm',
    title: 'bench',
    createdAt: now,
    updatedAt: now,
  });
}

async function benchStore(connections: RedisConnections) {
  const store = new RedisHistoryStore({ redis: connections.command, ttlSeconds, prefix });
  // Commits spread over 200 conversations of 10 turns, as real traffic would be.
  for (let c = 0; c < 200; c++) await meta(store, `c_commit_${c}`);
  const commit: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const messages = turn(i);
    const started = performance.now();
    await store.commitTurn(`c_commit_${i % 200}`, `t_${i}`, messages, new Date());
    commit.push(performance.now() - started);
  }
  await meta(store, 'c_load');
  for (let i = 0; i < 10; i++) await store.commitTurn('c_load', `t_${i}`, turn(i), new Date());
  const load: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const started = performance.now();
    const messages = await store.messages('c_load');
    load.push(performance.now() - started);
    if (messages.length !== 40) throw new Error(`loaded ${messages.length} messages, not 40`);
  }
  console.log(summary(`turn commit (4 messages) ×${COMMITS}`, commit));
  console.log(summary(`history load (40 messages) ×${LOADS}`, load));
}

async function benchBus(publisher: RedisConnections, subscriber: RedisConnections) {
  const bus = new RedisFrameBus({ connections: publisher, log, prefix, ttlSeconds });
  const watcher = new RedisFrameBus({ connections: subscriber, log, prefix, ttlSeconds });
  const ids = Array.from({ length: CONVERSATIONS }, (_, i) => `c_bus_${i}`);
  let received = 0;
  let done = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const listener = (_p: PublishedFrame) => {
    if (++received === FRAMES + CONVERSATIONS) done();
  };
  const offs = await Promise.all(ids.map((id) => watcher.subscribe(id, listener)));
  const perConversation = FRAMES / CONVERSATIONS;
  const started = performance.now();
  await Promise.all(
    ids.map(async (id) => {
      await bus.startTurn(id, 't1', {
        type: 'turn-start',
        model: 'm',
        agent: 'default',
        userMessage: { content: 'go' },
      });
      for (let i = 0; i < perConversation; i++) {
        await bus.publish(id, 't1', { type: 'token', text: `token ${i} ` });
      }
    }),
  );
  const published = performance.now() - started;
  await all;
  const receivedIn = performance.now() - started;
  const rate = (ms: number) =>
    Math.round((FRAMES + CONVERSATIONS) / (ms / 1000)).toLocaleString('en');
  console.log(
    `frames through the bus ×${FRAMES + CONVERSATIONS}`.padEnd(34),
    `published ${rate(published)}/s   received by a subscriber ${rate(receivedIn)}/s (all ${received})`,
  );
  for (const off of offs) off();
  await Promise.all([bus.close(), watcher.close()]);
}

const connections = new RedisConnections({ url: REDIS_URL, log, name: 'agentgate-bench' });
const subscriber = new RedisConnections({ url: REDIS_URL, log, name: 'agentgate-bench-sub' });
try {
  await Promise.all([connections.ready(5_000), subscriber.ready(5_000)]);
  const info = await connections.command.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1];
  console.log(
    `agentgate Redis benchmark — Node ${process.version}, Redis ${version}, ${REDIS_URL}`,
  );
  await benchStore(connections);
  await benchBus(connections, subscriber);
} finally {
  let cursor = '0';
  do {
    const [next, keys] = await connections.command.scan(
      cursor,
      'MATCH',
      `${prefix}*`,
      'COUNT',
      1000,
    );
    if (keys.length > 0) await connections.command.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  await Promise.all([connections.close(), subscriber.close()]);
}
