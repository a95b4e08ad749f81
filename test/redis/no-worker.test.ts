import { beforeAll, describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { eventually } from './fixture.ts';
import { type GatewayProcess, useProcessRig } from './processes.ts';

// docs/protocol.md invariant 8: with no worker alive, a chat is refused with `unavailable`
// or ends within 30 seconds; `/ready` says whether any worker is alive.
const rig = useProcessRig();
let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await rig.gateway('gateway');
}, 60_000);

const ready = () =>
  fetch(`${gateway.url}/ready`).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as { reason?: string },
  }));

describe('a gateway with no worker alive', () => {
  it('is not ready and refuses a chat at once; with a worker both work', async () => {
    rig.showLogsOnFailure();
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

    const worker = await rig.worker('worker');
    await eventually(async () => (await ready()).status === 200, 10_000, '/ready 200');
    rig.emulator.enqueue({ blocks: [{ text: 'Here.' }] });
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
