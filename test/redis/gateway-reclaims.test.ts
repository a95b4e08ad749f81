import { beforeAll, describe, expect, it } from 'vitest';
import { queueKeys } from '../../src/redis/keys.ts';
import type { Emulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { type Child, type GatewayProcess, useProcessRig } from './processes.ts';

// Invariant 8 of docs/protocol.md with no other worker alive: the gateway that accepted the
// turn (RUN_WORKER=false) ends it.

const rig = useProcessRig();
let emulator: Emulator;
let gateway: GatewayProcess;
const workers: Child[] = [];

beforeAll(async () => {
  emulator = rig.emulator;
  const [g, w] = await Promise.all([rig.gateway('gateway'), rig.worker('worker-1')]);
  gateway = g;
  workers.push(w);
}, 60_000);

describe('the only worker killed mid-turn', () => {
  it('has its turn ended by the gateway with worker_lost within 30 s; a new worker runs the next turn', async () => {
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
    await workers[0]!.kill();
    const killedAt = Date.now();

    const frames = await turn;
    const elapsed = Date.now() - killedAt;
    const { end, text } = checkTurn(frames);
    expect(elapsed).toBeLessThan(30_000);
    expect(end.stopReason).toBe('error');
    expect(text.length).toBeGreaterThan(0);
    expect(frames.find((f) => f.type === 'error')).toMatchObject({
      code: 'worker_lost',
      retryable: true,
    });
    const history = (await fetch(`${gateway.url}/v1/conversations/${conversationId}/messages`).then(
      (r) => r.json(),
    )) as { messages: { role: string; content: string }[] };
    expect(history.messages).toEqual([
      expect.objectContaining({ role: 'user', content: 'will you finish?' }),
    ]);

    workers.push(await rig.worker('worker-2'));
    emulator.reset();
    emulator.enqueue({ blocks: [{ text: 'Back again.' }] });
    const next = checkTurn(await client.chat('and now?', {}, 20_000));
    expect(next.end.stopReason).toBe('end_turn');
    expect(next.text).toBe('Back again.');
    await client.close();
    expect(await rig.admin.xlen(queueKeys(rig.prefix).dead)).toBe(0);
  }, 90_000);
});
