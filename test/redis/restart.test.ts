import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from './fixture.ts';
import { type Child, processEnv, startGatewayProcess, startWorkerProcess } from './processes.ts';

let emulator: Emulator;
let admin: Redis;
let prefix: string;
const children: Child[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
});
afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

async function startAll() {
  const env = processEnv(emulator, REDIS_URL, prefix);
  const [gateway, worker] = await Promise.all([
    startGatewayProcess('gateway', env),
    startWorkerProcess('worker', env, REDIS_URL),
  ]);
  children.push(gateway, worker);
  return { gateway, worker };
}

describe('restarting every process', () => {
  it('keeps history, seq and the conversation, and the next turn sees the history', async () => {
    onTestFailed(() => {
      for (const child of children) console.error(child.log());
    });
    const first = await startAll();
    const client = await TestClient.connect(first.gateway.wsUrl);
    const conversationId = client.ready.conversationId;
    emulator.enqueue({ blocks: [{ text: 'One.' }] }, { blocks: [{ text: 'Two.' }] });
    checkTurn(await client.chat('first'));
    const second = checkTurn(await client.chat('second'));
    await client.close();
    await Promise.all([first.gateway.stop(), first.worker.stop()]);
    expect(first.gateway.process.exitCode).toBe(0);
    expect(first.worker.process.exitCode).toBe(0);

    const again = await startAll();
    const history = (await fetch(
      `${again.gateway.url}/v1/conversations/${conversationId}/messages`,
    ).then((r) => r.json())) as { messages: { role: string; content: string }[] };
    expect(history.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'first'],
      ['assistant', 'One.'],
      ['user', 'second'],
      ['assistant', 'Two.'],
    ]);

    const back = await TestClient.connect(again.gateway.wsUrl);
    emulator.reset();
    emulator.enqueue({ blocks: [{ text: 'Three.' }] });
    const third = await back.chat('third', { conversationId });
    checkTurn(third);
    // seq goes on from where it was: a client resuming with afterSeq misses nothing.
    expect(third[0]!.seq).toBe((second.end.seq as number) + 1);
    const sent = emulator.requests[0]!.body!.messages!;
    expect(sent.map((m) => m.content?.[0]?.text)).toEqual([
      'first',
      'One.',
      'second',
      'Two.',
      'third',
    ]);
    await back.close();
  }, 90_000);
});
