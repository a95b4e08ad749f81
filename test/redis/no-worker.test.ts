import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, eventually, REDIS_URL, testPrefix } from './fixture.ts';
import {
  type Child,
  type GatewayProcess,
  processEnv,
  startGatewayProcess,
  startWorkerProcess,
} from './processes.ts';

// docs/protocol.md invariant 8: with no worker alive, a chat is refused with `unavailable`
// or ends within 30 seconds; `/ready` says whether any worker is alive.
let emulator: Emulator;
let admin: Redis;
let prefix: string;
let env: Record<string, string>;
let gateway: GatewayProcess;
const children: Child[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
  env = processEnv(emulator, REDIS_URL, prefix);
  gateway = await startGatewayProcess('gateway', env);
  children.push(gateway);
}, 60_000);

afterAll(async () => {
  await Promise.all(children.map((c) => c.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

const ready = () =>
  fetch(`${gateway.url}/ready`).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { reason?: string },
  }));

describe('a gateway with no worker alive', () => {
  it('is not ready and refuses a chat at once; with a worker both work', async () => {
    onTestFailed(() => {
      for (const child of children) console.error(child.log());
    });
    const before = await ready();
    expect(before.status).toBe(503);
    expect(before.body.reason).toMatch(/no worker/i);

    const client = await TestClient.connect(gateway.wsUrl);
    const started = Date.now();
    const [refused] = await client.chat('anyone?');
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
    // Nothing was accepted: the conversation has no history.
    const history = await fetch(
      `${gateway.url}/v1/conversations/${client.ready.conversationId}/messages`,
    ).then((r) => r.json());
    expect(history).toMatchObject({ messages: [] });

    const worker = await startWorkerProcess('worker', env, REDIS_URL);
    children.push(worker);
    await eventually(async () => (await ready()).status === 200, 10_000, '/ready 200');
    emulator.enqueue({ blocks: [{ text: 'Here.' }] });
    expect(checkTurn(await client.chat('anyone?')).text).toBe('Here.');

    // The worker dies; a chat slips in while it still counts as alive: nobody takes the
    // job, and the gateway ends the turn instead of letting it hang.
    await worker.kill();
    const frames = await client.chat('still there?', {}, 35_000);
    expect(checkTurn(frames).end.stopReason).toBe('error');
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      code: 'unavailable',
      retryable: true,
    });
    expect(checkTurn(frames).end.durationMs as number).toBeLessThan(30_000);
    await eventually(async () => (await ready()).status === 503, 15_000, '/ready 503 again');
    await client.close();
  }, 90_000);
});
