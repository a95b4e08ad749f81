import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import { type Frame, TestClient } from '../helpers/ws-client.ts';
import { type GatewayProcess, useProcessRig } from './processes.ts';

// `GET /v1/conversations` across processes: two gateways (RUN_WORKER=false) and a worker on
// one Redis. A turn runs on the worker; either gateway lists it, for its owner only.
const rig = useProcessRig({ env: { AUTH_API_KEYS: 'key-alice:alice,key-bob:bob' } });
let gatewayA: GatewayProcess;
let gatewayB: GatewayProcess;
const clients: TestClient[] = [];

beforeAll(async () => {
  [gatewayA, gatewayB] = await Promise.all([
    rig.gateway('gateway-a'),
    rig.gateway('gateway-b'),
    rig.worker('worker'),
  ]);
}, 60_000);

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  rig.emulator.reset();
});

async function connect(gateway: GatewayProcess, user: string): Promise<TestClient> {
  const client = await TestClient.connect(`${gateway.wsUrl}?token=key-${user}`);
  clients.push(client);
  return client;
}

interface Summary {
  id: string;
  updatedAt: string;
  runningTurnId: string | null;
}

async function list(gateway: GatewayProcess, user: string): Promise<Summary[]> {
  const response = await fetch(`${gateway.url}/v1/conversations?limit=100`, {
    headers: { authorization: `Bearer key-${user}` },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { conversations: Summary[] }).conversations;
}

async function messages(gateway: GatewayProcess, id: string): Promise<Frame[]> {
  const response = await fetch(`${gateway.url}/v1/conversations/${id}/messages`, {
    headers: { authorization: 'Bearer key-alice' },
  });
  return ((await response.json()) as { messages: Frame[] }).messages;
}

describe('the conversation list with gateways and a worker on one Redis', () => {
  it('lists on gateway B, for its owner only, a turn that ran on the worker for gateway A', async () => {
    rig.showLogsOnFailure();
    const alice = await connect(gatewayA, 'alice');
    rig.emulator.enqueue({
      blocks: [{ text: 'From the worker.' }],
      usage: { inputTokens: 11, outputTokens: 4 },
    });
    const { end } = checkTurn(await alice.chat('run elsewhere'));
    const id = alice.ready.conversationId;
    const onB = await list(gatewayB, 'alice');
    expect(onB[0]).toMatchObject({ id, runningTurnId: null });
    // The worker's commit time: what history says of the turn's messages.
    const history = await messages(gatewayB, id);
    expect(onB[0]!.updatedAt).toBe(history.at(-1)!.createdAt);
    expect(history.at(-1)!.usage).toEqual(end.usage);
    expect(end.usage).toEqual({
      inputTokens: 11,
      outputTokens: 4,
      totalTokens: 15,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      // Priced by the worker: the default model's $3 in, $15 out per million tokens.
      costUsd: (11 * 3 + 4 * 15) / 1e6,
    });
    expect((await list(gatewayB, 'bob')).map((c) => c.id)).not.toContain(id);
    expect((await list(gatewayA, 'bob')).map((c) => c.id)).not.toContain(id);
  });

  it('shows on gateway B the turn the worker runs now, and drops a conversation deleted there', async () => {
    rig.showLogsOnFailure();
    const alice = await connect(gatewayA, 'alice');
    const id = alice.ready.conversationId;
    rig.emulator.enqueue({ blocks: [{ text: 'Taking my time' }], hangAfterEvents: 3 });
    alice.send({ type: 'chat', content: 'slowly' });
    const start = await alice.next((f) => f.type === 'turn-start');
    await alice.next((f) => f.type === 'token');
    expect((await list(gatewayB, 'alice'))[0]).toMatchObject({ id, runningTurnId: start.turnId });
    alice.send({ type: 'cancel', conversationId: id });
    await alice.next((f) => f.type === 'turn-end', 10_000);
    expect((await list(gatewayB, 'alice'))[0]).toMatchObject({ id, runningTurnId: null });

    const deleted = await fetch(`${gatewayB.url}/v1/conversations/${id}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer key-alice' },
    });
    expect(deleted.status).toBe(204);
    expect((await list(gatewayA, 'alice')).map((c) => c.id)).not.toContain(id);
  });
});
