import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { queueKeys } from '../../src/redis/keys.ts';
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

let emulator: Emulator;
let admin: Redis;
let prefix: string;
let gateway: GatewayProcess;
let workers: Child[];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
  const env = processEnv(emulator, REDIS_URL, prefix);
  [gateway, ...workers] = await Promise.all([
    startGatewayProcess('gateway', env),
    startWorkerProcess('worker-1', env, REDIS_URL),
    startWorkerProcess('worker-2', env, REDIS_URL),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway, ...workers].map((c) => c?.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

/** The worker process whose consumer holds the one pending job (consumer names carry the pid). */
async function workerRunningTheJob(): Promise<Child> {
  const pending = await eventually(
    async () => {
      const entries = (await admin.call(
        'XPENDING',
        queueKeys(prefix).jobs,
        'workers',
        '-',
        '+',
        10,
      )) as [string, string][];
      return entries.length === 1 ? entries[0]! : undefined;
    },
    5_000,
    'one pending job',
  );
  const worker = workers.find((w) => pending[1].includes(`-${w.pid}-`));
  if (!worker) throw new Error(`no worker owns consumer ${pending[1]}`);
  return worker;
}

describe('a worker killed mid-turn', () => {
  it('ends the turn with worker_lost within 30 s, stores the user message once, and the next turn works', async () => {
    onTestFailed(() => {
      for (const child of [gateway, ...workers]) console.error(child.log());
    });
    const client = await TestClient.connect(gateway.wsUrl);
    const conversationId = client.ready.conversationId;
    emulator.enqueue({
      blocks: [{ text: 'Partial answer that never' }],
      chunkChars: 5,
      hangAfterEvents: 5,
    });
    const turn = client.chat('will you finish?', {}, 40_000);
    await emulator.waitForRequests(1);
    await client.next((f) => f.type === 'token');
    const victim = await workerRunningTheJob();
    await victim.kill();
    const killedAt = Date.now();

    const frames = await turn;
    const elapsed = Date.now() - killedAt;
    const { end, text } = checkTurn(frames);
    expect(elapsed).toBeLessThan(30_000);
    expect(end.stopReason).toBe('error');
    expect(text.length).toBeGreaterThan(0);
    const error = frames.find((f) => f.type === 'error')!;
    expect(error).toMatchObject({ code: 'worker_lost', retryable: true });

    const history = (await fetch(`${gateway.url}/v1/conversations/${conversationId}/messages`).then(
      (r) => r.json(),
    )) as { messages: { role: string; content: string }[] };
    expect(history.messages).toEqual([
      expect.objectContaining({ role: 'user', content: 'will you finish?' }),
    ]);

    emulator.reset();
    emulator.enqueue({ blocks: [{ text: 'Back again.' }] });
    const next = checkTurn(await client.chat('and now?', {}, 20_000));
    expect(next.end.stopReason).toBe('end_turn');
    expect(next.text).toBe('Back again.');
    const [request] = emulator.requests;
    const roles = request!.body!.messages!.map((m) => m.role);
    expect(roles[0]).toBe('user');
    expect(roles.at(-1)).toBe('user');
    await client.close();
    expect(await admin.xlen(queueKeys(prefix).dead)).toBe(0);
  }, 60_000);
});
