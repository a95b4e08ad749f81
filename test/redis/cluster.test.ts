import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { type Frame, TestClient } from '../helpers/ws-client.ts';
import { type GatewayProcess, useProcessRig } from './processes.ts';

// Two gateways (RUN_WORKER=false) and two workers, separate processes, one Redis.
const rig = useProcessRig();
let emulator: Emulator;
let gatewayA: GatewayProcess;
let gatewayB: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  emulator = rig.emulator;
  [gatewayA, gatewayB] = await Promise.all([
    rig.gateway('gateway-a'),
    rig.gateway('gateway-b'),
    rig.worker('worker-1'),
    rig.worker('worker-2'),
  ]);
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  emulator.reset();
});

async function connect(gateway: GatewayProcess): Promise<TestClient> {
  const client = await TestClient.connect(gateway.wsUrl);
  clients.push(client);
  return client;
}

function dumpOnFailure() {
  rig.showLogsOnFailure();
}

/** Subscribes and returns the `subscribed` answer. */
async function subscribe(client: TestClient, conversationId: string, afterSeq?: number) {
  const since = client.frames.length;
  client.send({
    type: 'subscribe',
    conversationId,
    ...(afterSeq === undefined ? {} : { afterSeq }),
  });
  return client.next(
    (f) => f.type === 'subscribed' && f.conversationId === conversationId,
    5_000,
    since,
  );
}

const text = (n: number) => Array.from({ length: n }, (_, i) => `word${i} `).join('');

describe('two gateways and two workers on one Redis', () => {
  it('shows a subscriber on gateway B a turn sent through gateway A, with the same seq values', async () => {
    dumpOnFailure();
    const a = await connect(gatewayA);
    const b = await connect(gatewayB);
    const conversationId = a.ready.conversationId;
    emulator.enqueue({ blocks: [{ text: 'First answer.' }] });
    checkTurn(await a.chat('first'));
    expect((await subscribe(b, conversationId)).lastSeq).toBeGreaterThan(0);

    emulator.enqueue({ blocks: [{ text: text(40) }], chunkChars: 5 });
    const onA = await a.chat('second');
    const { end } = checkTurn(onA);
    expect(end.text).toBe(text(40));
    const onB = await b.turnFrames(onA[0]!.turnId as string);
    expect(onB).toEqual(onA);
    expect(onB[0]!.seq).toBe(onA[0]!.seq as number);
  });

  it('resumes on gateway B with afterSeq after part of a turn was seen on gateway A', async () => {
    dumpOnFailure();
    const a = await connect(gatewayA);
    emulator.enqueue({ blocks: [{ text: text(30) }], chunkChars: 6, delayMs: 25 });
    const since = a.frames.length;
    a.send({ type: 'chat', content: 'resume me', requestId: 'r1' });
    await a.next((f) => f.type === 'token', 10_000, since);
    await a.next((f) => f.type === 'token' && (f.seq as number) >= 5, 10_000, since);
    // A's client goes away having seen up to some seq; it comes back through B.
    const seen = a.frames.slice(since).filter((f) => f.turnId !== undefined);
    await a.close();
    const lastSeen = seen.at(-1)!.seq as number;

    const b = await connect(gatewayB);
    const subscribed = await subscribe(b, a.ready.conversationId, lastSeen);
    expect(subscribed.firstRetainedSeq).toBe(1);
    const turnId = seen[0]!.turnId as string;
    const rest = await b.turnFrames(turnId, 15_000);
    const whole = [...seen, ...rest];
    const { end } = checkTurn(whole);
    expect(end.text).toBe(text(30));
    expect(rest[0]!.seq).toBe(lastSeen + 1);
  });

  it('stops, on cancel sent to gateway B, a turn a worker runs for gateway A', async () => {
    dumpOnFailure();
    const a = await connect(gatewayA);
    const b = await connect(gatewayB);
    emulator.enqueue({
      blocks: [{ text: 'This will never finish' }],
      chunkChars: 4,
      hangAfterEvents: 4,
    });
    const turn = a.chat('hang on');
    await emulator.waitForRequests(1);
    await a.next((f) => f.type === 'token');
    b.send({ type: 'cancel', conversationId: a.ready.conversationId });
    const aborted = await emulator.waitForAbort(10_000);
    expect(aborted.aborted).toBe(true);
    const frames = await turn;
    const { end } = checkTurn(frames);
    expect(end.stopReason).toBe('cancelled');
  });

  it('serves the same history through either gateway', async () => {
    dumpOnFailure();
    const a = await connect(gatewayA);
    emulator.enqueue({ blocks: [{ text: 'Stored answer.' }] });
    checkTurn(await a.chat('remember this'));
    const id = a.ready.conversationId;
    const [fromA, fromB] = await Promise.all(
      [gatewayA, gatewayB].map((g) =>
        fetch(`${g.url}/v1/conversations/${id}/messages`).then((r) => r.json()),
      ),
    );
    expect(fromB).toEqual(fromA);
    expect((fromB as { messages: Frame[] }).messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'remember this'],
      ['assistant', 'Stored answer.'],
    ]);
  });
});
