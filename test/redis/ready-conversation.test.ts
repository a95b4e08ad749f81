import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from './fixture.ts';
import {
  type Child,
  type GatewayProcess,
  processEnv,
  startGatewayProcess,
  startWorkerProcess,
} from './processes.ts';

// The ready conversation across gateways, with no Redis write per connection: the id
// itself carries its owner, so gateway B knows it is alice's before anything is stored.
let emulator: Emulator;
let admin: Redis;
let prefix: string;
let a: GatewayProcess;
let b: GatewayProcess;
let worker: Child;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
  const env = processEnv(emulator, REDIS_URL, prefix, {
    AUTH_API_KEYS: 'key-alice:alice,key-bob:bob',
  });
  [a, b, worker] = await Promise.all([
    startGatewayProcess('gateway-a', env),
    startGatewayProcess('gateway-b', env),
    startWorkerProcess('worker', env, REDIS_URL),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([a, b, worker].map((c) => c?.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

describe('the ready conversation across gateways', () => {
  it('is its user’s on another gateway before its first turn, and forbidden to others', async () => {
    onTestFailed(() => {
      for (const child of [a, b, worker]) console.error(child.log());
    });
    const keysBefore = await admin.keys(`${prefix}*`);
    const onA = await TestClient.connect(`${a.wsUrl}?token=key-alice`);
    const onB = await TestClient.connect(`${b.wsUrl}?token=key-alice`);
    const bob = await TestClient.connect(`${b.wsUrl}?token=key-bob`);
    // Connecting wrote nothing per connection (the id secret aside, made once).
    const written = (await admin.keys(`${prefix}*`)).filter((k) => !keysBefore.includes(k));
    expect(written.filter((k) => !k.endsWith('id-secret'))).toEqual([]);

    const conversationId = onA.ready.conversationId;
    onA.send({ type: 'subscribe', conversationId });
    await onA.next((f) => f.type === 'subscribed');
    onB.send({ type: 'subscribe', conversationId });
    expect(await onB.next((f) => f.type === 'subscribed')).toMatchObject({
      lastSeq: 0,
      runningTurnId: null,
    });
    bob.send({ type: 'subscribe', conversationId });
    expect(await bob.next((f) => f.type === 'error')).toMatchObject({ code: 'forbidden' });

    emulator.enqueue({ blocks: [{ text: 'Through B.' }] });
    const turn = checkTurn(await onB.chat('from B', { conversationId }, 20_000));
    expect(turn.text).toBe('Through B.');
    const seenOnA = await onA.turnFrames(turn.end.turnId as string, 10_000);
    expect(seenOnA).toEqual(onB.frames.filter((f) => f.turnId === turn.end.turnId));
    await Promise.all([onA.close(), onB.close(), bob.close()]);
  }, 60_000);
});
