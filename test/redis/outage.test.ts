import { beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { eventually } from './fixture.ts';
import { type GatewayProcess, type OwnRedis, useProcessRig } from './processes.ts';

// This test stops and restarts Redis, so it runs its own redis-server on a free port.
const rig = useProcessRig({ ownRedis: true });
let emulator: Emulator;
let redis: OwnRedis;
let gateway: GatewayProcess;

beforeAll(async () => {
  emulator = rig.emulator;
  redis = rig.redis!;
  [gateway] = await Promise.all([rig.gateway('gateway'), rig.worker('worker')]);
}, 60_000);

const readyStatus = () => fetch(`${gateway.url}/ready`).then((r) => r.status);

describe('Redis restarted mid-turn', () => {
  it('keeps the gateway up, refuses chats with unavailable, ends the running turn, then recovers', async () => {
    rig.showLogsOnFailure();
    expect(await readyStatus()).toBe(200);
    const watcher = await TestClient.connect(gateway.wsUrl);
    const conversationId = watcher.ready.conversationId;
    const answer = Array.from({ length: 80 }, (_, i) => `w${i} `).join('');
    emulator.enqueue({ blocks: [{ text: answer }], chunkChars: 4, delayMs: 50 });
    const turn = watcher.chat('a long answer, please', {}, 60_000);
    await watcher.next((f) => f.type === 'token' && (f.seq as number) >= 4, 10_000);

    await redis.stop();
    const downAt = Date.now();
    await eventually(async () => (await readyStatus()) === 503, 5_000, '/ready 503');

    // A new client still connects; its chat is refused, retryably.
    const newcomer = await TestClient.connect(gateway.wsUrl);
    const [refused] = await newcomer.chat('anyone there?');
    expect(refused).toMatchObject({ type: 'error', code: 'unavailable', retryable: true });
    // So is the conversation list, with 503.
    const list = await fetch(`${gateway.url}/v1/conversations`);
    expect(list.status).toBe(503);
    expect(await list.json()).toMatchObject({ error: { code: 'unavailable', retryable: true } });
    // The worker gives the model call up when it cannot publish.
    await emulator.waitForAbort(10_000);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1_500 - (Date.now() - downAt))));
    await redis.restart();
    const upAt = Date.now();
    await eventually(async () => (await readyStatus()) === 200, 10_000, '/ready 200');

    // The running turn ends with an error once Redis is back, within the reclaim time.
    const frames = await turn;
    const { end } = checkTurn(frames);
    expect(end.stopReason).toBe('error');
    expect(Date.now() - upAt).toBeLessThan(30_000);
    const error = frames.find((f) => f.type === 'error')!;
    expect(['worker_lost', 'unavailable']).toContain(error.code);
    expect(error.retryable).toBe(true);

    // History was never half-written: the user message once, no partial answer.
    const history = (await fetch(`${gateway.url}/v1/conversations/${conversationId}/messages`).then(
      (r) => r.json(),
    )) as { messages: { role: string; content: string }[] };
    expect(history.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'a long answer, please'],
    ]);
    // Listed again, with no turn running.
    const listed = (await fetch(`${gateway.url}/v1/conversations`).then((r) => r.json())) as {
      conversations: { id: string; runningTurnId: string | null }[];
    };
    expect(listed.conversations[0]).toMatchObject({ id: conversationId, runningTurnId: null });

    // Everything works again, on a fresh socket and on the old one.
    emulator.reset();
    emulator.enqueue({ blocks: [{ text: 'Fine now.' }] }, { blocks: [{ text: 'Here too.' }] });
    const again = checkTurn(await newcomer.chat('anyone there?', {}, 20_000));
    expect(again.text).toBe('Fine now.');
    const resumed = checkTurn(await watcher.chat('still there?', {}, 20_000));
    expect(resumed.text).toBe('Here too.');
    await Promise.all([watcher.close(), newcomer.close()]);
  }, 90_000);
});
