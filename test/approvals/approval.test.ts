import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

// Tool approval in one process (the embedded default): the turn asks, waits, and goes on
// with whatever answer came first; every turn holds invariants 1–9.

const TICKETS = 'examples/tools/support-tickets.ts';
let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  const dir = await mkdtemp(path.join(tmpdir(), 'approval-'));
  const agents = path.join(dir, 'agents.yaml');
  await writeFile(
    agents,
    'agents:\n  - id: careful\n    description: Asks first.\n    tools: [calculator, lookup_ticket, close_ticket]\n    skills: []\n    approve: [calculator]\n',
  );
  gw = await startGateway(
    {
      AGENTS_FILE: agents,
      TOOL_MODULES: TICKETS,
      AUTH_API_KEYS: 'key-alice:alice,key-bob:bob',
      APPROVAL_TIMEOUT_SECONDS: '2',
      APPROVAL_REQUIRED_TOOLS: 'lookup_ticket',
    },
    emulator,
  );
});
afterAll(async () => {
  await gw.close();
  await emulator.close();
});

const alice = () => gw.connect('?token=key-alice');
const calculate = (id: string, expression = '6*7') => ({
  blocks: [{ toolUse: { toolUseId: id, name: 'calculator', input: { expression } } }],
});

/** Starts a chat whose first model reply calls a tool that needs approval; resolves at the request. */
async function ask(client: TestClient, toolUseId: string, then = 'Done.') {
  emulator.enqueue(calculate(toolUseId), { blocks: [{ text: then }] });
  const turn = client.chat('calculate 6*7', {}, 20_000);
  const request = await client.next(
    (f) => f.type === 'approval-request' && f.toolCallId === toolUseId,
  );
  return { turn, request };
}

function answer(client: TestClient, conversationId: string, toolCallId: string, extra = {}) {
  const requestId = `a${Math.random().toString(36).slice(2)}`;
  client.send({
    type: 'approve',
    conversationId,
    toolCallId,
    decision: 'approve',
    requestId,
    ...extra,
  });
  return requestId;
}

const resultOf = (frames: Frame[], id: string) =>
  frames.find((f) => f.type === 'approval-result' && f.toolCallId === id);
const endOf = (frames: Frame[], id: string) =>
  frames.find((f) => f.type === 'tool-end' && f.toolCallId === id);

describe('tool approval', () => {
  it('runs the tool once approved: request, result, then its tool-end', async () => {
    emulator.reset();
    const client = await alice();
    const { turn, request } = await ask(client, 'tu_ok', 'It is 42.');
    expect(request).toMatchObject({ name: 'calculator', input: { expression: '6*7' } });
    const left = Date.parse(request.expiresAt as string) - Date.now();
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(2_000);
    answer(client, request.conversationId as string, 'tu_ok');
    const frames = await turn;
    checkTurn(frames);
    await checkStored(client, frames);
    expect(resultOf(frames, 'tu_ok')).toMatchObject({ decision: 'approve', decidedBy: 'alice' });
    expect(endOf(frames, 'tu_ok')).toMatchObject({ isError: false, output: '42' });
  });

  it('does not run a rejected tool; the model gets the reason, and the history shows it', async () => {
    emulator.reset();
    const client = await alice();
    const { turn, request } = await ask(client, 'tu_no', 'Understood.');
    answer(client, request.conversationId as string, 'tu_no', {
      decision: 'reject',
      reason: 'not today',
    });
    const frames = await turn;
    checkTurn(frames);
    await checkStored(client, frames);
    expect(resultOf(frames, 'tu_no')).toMatchObject({
      decision: 'reject',
      decidedBy: 'alice',
      reason: 'not today',
    });
    const end = endOf(frames, 'tu_no')!;
    expect(end).toMatchObject({ isError: true });
    expect(end.output).toContain(
      'alice rejected this call of calculator; it was not run. Reason: not today',
    );
    expect(end.output).not.toContain('42');
    const sent = JSON.stringify(emulator.requests[1]?.body?.messages);
    expect(sent).toContain('Reason: not today');
    expect(frames.at(-1)).toMatchObject({ stopReason: 'end_turn', text: 'Understood.' });
  });

  it('times out without an answer: the tool does not run, the turn goes on', async () => {
    emulator.reset();
    const client = await alice();
    const { turn } = await ask(client, 'tu_late', 'Nobody answered.');
    const frames = await turn;
    checkTurn(frames);
    expect(resultOf(frames, 'tu_late')).toEqual(expect.objectContaining({ decision: 'timeout' }));
    expect(resultOf(frames, 'tu_late')!.decidedBy).toBeUndefined();
    expect(endOf(frames, 'tu_late')).toMatchObject({
      isError: true,
      output: expect.stringContaining('within 2 s'),
    });
    // A late answer finds nothing to answer.
    const requestId = answer(client, frames[0]!.conversationId as string, 'tu_late');
    const refused = await client.next((f) => f.type === 'error' && f.requestId === requestId);
    expect(refused).toMatchObject({ code: 'no_pending_approval', retryable: false });
  });

  it('cancel while pending: approval-result cancelled, the tool-end, then turn-end cancelled', async () => {
    emulator.reset();
    const client = await alice();
    const { turn, request } = await ask(client, 'tu_cancel');
    client.send({ type: 'cancel', conversationId: request.conversationId });
    const frames = await turn;
    checkTurn(frames);
    await checkStored(client, frames);
    const types = frames.map((f) => f.type);
    expect(types.slice(-3)).toEqual(['approval-result', 'tool-end', 'turn-end']);
    expect(resultOf(frames, 'tu_cancel')).toMatchObject({ decision: 'cancelled' });
    expect(endOf(frames, 'tu_cancel')).toMatchObject({ isError: true });
    expect(frames.at(-1)).toMatchObject({ stopReason: 'cancelled' });
    const requestId = answer(client, request.conversationId as string, 'tu_cancel');
    expect(await client.next((f) => f.type === 'error' && f.requestId === requestId)).toMatchObject(
      {
        code: 'no_pending_approval',
      },
    );
  });

  it('takes the first answer only, refuses unknown ids and other users, and shows pending requests on subscribe', async () => {
    emulator.reset();
    const client = await alice();
    const tab = await alice();
    const { turn, request } = await ask(client, 'tu_first');
    const conversationId = request.conversationId as string;

    // A second tab (a reload) sees the request waiting.
    tab.send({ type: 'subscribe', conversationId, afterSeq: 0 });
    const subscribed = await tab.next((f) => f.type === 'subscribed');
    expect(subscribed.pendingApprovals).toEqual([
      {
        turnId: request.turnId,
        toolCallId: 'tu_first',
        name: 'calculator',
        input: { expression: '6*7' },
        expiresAt: request.expiresAt,
      },
    ]);

    const unknown = answer(client, conversationId, 'tu_nothing');
    expect(await client.next((f) => f.type === 'error' && f.requestId === unknown)).toMatchObject({
      code: 'no_pending_approval',
      retryable: false,
    });
    const bob = await gw.connect('?token=key-bob');
    const stranger = answer(bob, conversationId, 'tu_first');
    expect(await bob.next((f) => f.type === 'error' && f.requestId === stranger)).toMatchObject({
      code: 'forbidden',
    });

    answer(tab, conversationId, 'tu_first', { decision: 'reject' });
    await client.next((f) => f.type === 'approval-result' && f.toolCallId === 'tu_first');
    const second = answer(client, conversationId, 'tu_first');
    expect(await client.next((f) => f.type === 'error' && f.requestId === second)).toMatchObject({
      code: 'no_pending_approval',
    });
    const frames = await turn;
    checkTurn(frames);
    expect(frames.filter((f) => f.type === 'approval-result')).toHaveLength(1);
    expect(resultOf(frames, 'tu_first')).toMatchObject({ decision: 'reject', decidedBy: 'alice' });
    // Both tabs saw the same turn.
    const tabFrames = await tab.turnFrames(frames[0]!.turnId as string);
    expect(tabFrames).toEqual(frames);
    tab.send({ type: 'subscribe', conversationId });
    const after = await tab.next(
      (f) => f.type === 'subscribed' && f.runningTurnId === null,
      5_000,
      tab.frames.length,
    );
    expect(after.pendingApprovals).toEqual([]);
  });

  it('asks for a tool its module marks, and one APPROVAL_REQUIRED_TOOLS names; a rejected one has no effect', async () => {
    emulator.reset();
    const client = await alice();
    emulator.enqueue(
      {
        blocks: [
          {
            toolUse: {
              toolUseId: 'tu_close',
              name: 'close_ticket',
              input: { id: 'T-1002', note: 'done' },
            },
          },
          { toolUse: { toolUseId: 'tu_look', name: 'lookup_ticket', input: { id: 'T-1002' } } },
        ],
      },
      { blocks: [{ text: 'Left open.' }] },
    );
    const turn = client.chat('close T-1002');
    const close = await client.next(
      (f) => f.type === 'approval-request' && f.toolCallId === 'tu_close',
    );
    answer(client, close.conversationId as string, 'tu_close', { decision: 'reject' });
    const look = await client.next(
      (f) => f.type === 'approval-request' && f.toolCallId === 'tu_look',
    );
    answer(client, look.conversationId as string, 'tu_look');
    const frames = await turn;
    checkTurn(frames);
    expect(endOf(frames, 'tu_close')).toMatchObject({ isError: true });
    expect(JSON.parse(endOf(frames, 'tu_look')!.output as string)).toMatchObject({
      id: 'T-1002',
      status: 'open',
    });
  });

  it('counts answers by decision and the time to each in /metrics', async () => {
    const res = await fetch(`${gw.url}/metrics`, {
      headers: { authorization: 'Bearer key-alice' },
    });
    const text = await res.text();
    const count = (decision: string) =>
      Number(
        new RegExp(`agentgate_approvals_total\\{decision="${decision}"\\} (\\d+)`).exec(
          text,
        )?.[1] ?? 0,
      );
    // The tests above: approvals, rejections, a timeout and a cancel.
    expect(count('approve')).toBeGreaterThanOrEqual(2);
    expect(count('reject')).toBeGreaterThanOrEqual(3);
    expect(count('timeout')).toBe(1);
    expect(count('cancelled')).toBe(1);
    const observed = Number(/agentgate_approval_decision_seconds_count (\d+)/.exec(text)?.[1]);
    expect(observed).toBe(
      count('approve') + count('reject') + count('timeout') + count('cancelled'),
    );
  });

  it('refuses a bad approve frame with bad_frame', async () => {
    const client = await alice();
    const requestId = 'bad1';
    client.send({
      type: 'approve',
      conversationId: 'c_x',
      toolCallId: 't',
      decision: 'maybe',
      requestId,
    });
    expect(await client.next((f) => f.type === 'error' && f.requestId === requestId)).toMatchObject(
      {
        code: 'bad_frame',
      },
    );
    client.send({
      type: 'approve',
      conversationId: 'c_x',
      toolCallId: 't',
      decision: 'reject',
      reason: 'x'.repeat(1001),
      requestId: 'bad2',
    });
    expect(await client.next((f) => f.type === 'error' && f.requestId === 'bad2')).toMatchObject({
      code: 'bad_frame',
    });
  });
});
