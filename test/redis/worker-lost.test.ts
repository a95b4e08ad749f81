import { beforeAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../src/redis/keys.ts';
import type { Emulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { eventually } from './fixture.ts';
import { type Child, type GatewayProcess, useProcessRig } from './processes.ts';

const rig = useProcessRig();
let emulator: Emulator;
let gateway: GatewayProcess;
let workers: Child[];

beforeAll(async () => {
  emulator = rig.emulator;
  [gateway, ...workers] = await Promise.all([
    rig.gateway('gateway'),
    rig.worker('worker-1'),
    rig.worker('worker-2'),
  ]);
}, 60_000);

/** The worker process whose consumer holds the one pending job (consumer names carry the pid). */
async function workerRunningTheJob(): Promise<Child> {
  const pending = await eventually(
    async () => {
      const entries = (await rig.admin.call(
        'XPENDING',
        queueKeys(rig.prefix).jobs,
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
    rig.showLogsOnFailure();
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
    expect(await rig.admin.xlen(queueKeys(rig.prefix).dead)).toBe(0);
  }, 60_000);
});
