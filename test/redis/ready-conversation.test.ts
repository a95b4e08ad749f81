import { beforeAll, describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { type GatewayProcess, useProcessRig } from './processes.ts';

// The ready conversation across gateways, with no Redis write per connection: the id
// itself carries its owner, so gateway B knows it is alice's before anything is stored.
const rig = useProcessRig({ env: { AUTH_API_KEYS: 'key-alice:alice,key-bob:bob' } });
let a: GatewayProcess;
let b: GatewayProcess;

beforeAll(async () => {
  [a, b] = await Promise.all([
    rig.gateway('gateway-a'),
    rig.gateway('gateway-b'),
    rig.worker('worker'),
  ]);
}, 60_000);

describe('the ready conversation across gateways', () => {
  it('is its user’s on another gateway before its first turn, and forbidden to others', async () => {
    rig.showLogsOnFailure();
    const keysBefore = await rig.admin.keys(`${rig.prefix}*`);
    const onA = await TestClient.connect(`${a.wsUrl}?token=key-alice`);
    const onB = await TestClient.connect(`${b.wsUrl}?token=key-alice`);
    const bob = await TestClient.connect(`${b.wsUrl}?token=key-bob`);
    // Connecting wrote nothing per connection (the id secret aside, made once).
    const written = (await rig.admin.keys(`${rig.prefix}*`)).filter((k) => !keysBefore.includes(k));
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

    rig.emulator.enqueue({ blocks: [{ text: 'Through B.' }] });
    const turn = checkTurn(await onB.chat('from B', { conversationId }, 20_000));
    expect(turn.text).toBe('Through B.');
    const seenOnA = await onA.turnFrames(turn.end.turnId as string, 10_000);
    expect(seenOnA).toEqual(onB.frames.filter((f) => f.turnId === turn.end.turnId));
    await Promise.all([onA.close(), onB.close(), bob.close()]);
  }, 60_000);
});
