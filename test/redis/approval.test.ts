import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame } from '../helpers/ws-client.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { type Child, type GatewayProcess, useProcessRig } from './processes.ts';

// Tool approval across processes: the turn runs in a worker, requests wait in Redis, and
// an answer through any gateway decides, exactly once.

const dir = mkdtempSync(path.join(tmpdir(), 'approval-redis-'));
const AGENTS = path.join(dir, 'agents.yaml');
writeFileSync(
  AGENTS,
  'agents:\n  - id: careful\n    description: Asks first.\n    tools: [calculator]\n    skills: []\n    approve: [calculator]\n',
);

const rig = useProcessRig({ env: { AGENTS_FILE: AGENTS, APPROVAL_TIMEOUT_SECONDS: '120' } });
let a: GatewayProcess;
let b: GatewayProcess;
let worker: Child;

beforeAll(async () => {
  [a, b, worker] = await Promise.all([
    rig.gateway('gateway-a'),
    rig.gateway('gateway-b'),
    rig.worker('worker-1'),
  ]);
}, 60_000);

const calculate = (id: string) => ({
  blocks: [{ toolUse: { toolUseId: id, name: 'calculator', input: { expression: '6*7' } } }],
});

function approve(client: TestClient, conversationId: string, toolCallId: string) {
  const requestId = `a${Math.random().toString(36).slice(2)}`;
  client.send({ type: 'approve', conversationId, toolCallId, decision: 'approve', requestId });
  return requestId;
}

/** A chat through gateway A whose tool waits for approval, watched through gateway B. */
async function pendingTurn(id: string) {
  const viaA = await TestClient.connect(a.wsUrl);
  const viaB = await TestClient.connect(b.wsUrl);
  rig.emulator.enqueue(calculate(id), { blocks: [{ text: 'It is 42.' }] });
  const turn = viaA.chat('6*7 please', {}, 60_000);
  const request = await viaA.next(
    (f) => f.type === 'approval-request' && f.toolCallId === id,
    20_000,
  );
  const conversationId = request.conversationId as string;
  viaB.send({ type: 'subscribe', conversationId });
  const subscribed = await viaB.next((f) => f.type === 'subscribed');
  return { viaA, viaB, turn, request, conversationId, subscribed };
}

const results = (frames: Frame[]) => frames.filter((f) => f.type === 'approval-result');

describe('tool approval with Redis', () => {
  it('is answered through gateway B while the turn runs in a worker behind gateway A', async () => {
    rig.showLogsOnFailure();
    rig.emulator.reset();
    const { viaA, viaB, turn, conversationId, subscribed } = await pendingTurn('tu_b');
    expect(subscribed.pendingApprovals).toEqual([
      expect.objectContaining({ toolCallId: 'tu_b', name: 'calculator' }),
    ]);
    approve(viaB, conversationId, 'tu_b');
    const frames = await turn;
    checkTurn(frames);
    expect(results(frames)).toEqual([
      expect.objectContaining({ decision: 'approve', decidedBy: 'anonymous' }),
    ]);
    expect(frames.find((f) => f.type === 'tool-end')).toMatchObject({
      isError: false,
      output: '42',
    });
    await viaB.turnFrames(frames[0]!.turnId as string);
    await Promise.all([viaA.close(), viaB.close()]);
  }, 60_000);

  it('takes exactly one of two answers given at once through two gateways', async () => {
    rig.showLogsOnFailure();
    rig.emulator.reset();
    const { viaA, viaB, turn, conversationId } = await pendingTurn('tu_race');
    const fromA = approve(viaA, conversationId, 'tu_race');
    const fromB = approve(viaB, conversationId, 'tu_race');
    const frames = await turn;
    checkTurn(frames);
    expect(results(frames)).toHaveLength(1);
    const seenByB = await viaB.turnFrames(frames[0]!.turnId as string);
    expect(results(seenByB)).toHaveLength(1);
    // The other answer was refused.
    const refusals = [...viaA.frames, ...viaB.frames].filter(
      (f) => f.type === 'error' && (f.requestId === fromA || f.requestId === fromB),
    );
    expect(refusals).toEqual([expect.objectContaining({ code: 'no_pending_approval' })]);
    await Promise.all([viaA.close(), viaB.close()]);
  }, 60_000);

  it('keeps a request when the gateway the chat came through shuts down', async () => {
    rig.showLogsOnFailure();
    rig.emulator.reset();
    const { viaB, turn, conversationId } = await pendingTurn('tu_survive');
    turn.catch(() => {}); // gateway A's socket closes with it
    await a.stop();
    approve(viaB, conversationId, 'tu_survive');
    const end = await viaB.next((f) => f.type === 'turn-end', 30_000);
    const frames = await viaB.turnFrames(end.turnId as string);
    expect(results(frames)).toEqual([expect.objectContaining({ decision: 'approve' })]);
    expect(end).toMatchObject({ stopReason: 'end_turn', text: 'It is 42.' });
    a = await rig.gateway('gateway-a2');
    await viaB.close();
  }, 60_000);

  it('ends a pending turn with worker_lost when its worker is killed: cancelled, tool-end, error', async () => {
    rig.showLogsOnFailure();
    rig.emulator.reset();
    const { viaA, viaB, turn, conversationId } = await pendingTurn('tu_lost');
    await worker.kill();
    const killedAt = Date.now();
    const frames = await turn;
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    checkTurn(frames);
    expect(frames.slice(-4).map((f) => f.type)).toEqual([
      'approval-result',
      'tool-end',
      'error',
      'turn-end',
    ]);
    expect(results(frames)).toEqual([expect.objectContaining({ decision: 'cancelled' })]);
    expect(frames.find((f) => f.type === 'error')).toMatchObject({ code: 'worker_lost' });
    // The request went with its turn.
    const requestId = approve(viaB, conversationId, 'tu_lost');
    expect(await viaB.next((f) => f.type === 'error' && f.requestId === requestId)).toMatchObject({
      code: 'no_pending_approval',
    });
    worker = await rig.worker('worker-2');
    await Promise.all([viaA.close(), viaB.close()]);
  }, 90_000);
});
