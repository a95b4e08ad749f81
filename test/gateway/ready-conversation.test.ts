import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationIds } from '../../src/gateway/conversation-ids.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

// docs/protocol.md: the conversation in `ready` is owned by its user from the moment `ready`
// is sent: any socket of the user can subscribe, ask its history or chat into it before its
// first turn; another user gets forbidden; an id nobody was given stays not_found.

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({ AUTH_API_KEYS: 'key-alice:alice,key-bob:bob' });
});
afterAll(async () => {
  await gw.close();
});

const as = (key: string) => gw.connect(`?token=${key}`);

/** The answer to `frame`: the next frame of its kind, or an error. */
async function answer(client: TestClient, frame: Record<string, unknown>, kind: string) {
  const since = client.frames.length;
  client.send(frame);
  return client.next((f: Frame) => f.type === kind || f.type === 'error', 5_000, since);
}

describe('the ready conversation', () => {
  it('exists for its user on another socket before its first turn', async () => {
    const first = await as('key-alice');
    const second = await as('key-alice');
    const conversationId = first.ready.conversationId;
    expect(await answer(second, { type: 'subscribe', conversationId }, 'subscribed')).toEqual({
      type: 'subscribed',
      conversationId,
      lastSeq: 0,
      firstRetainedSeq: 1,
      runningTurnId: null,
      pendingApprovals: [],
    });
    expect(await answer(second, { type: 'history', conversationId }, 'history')).toEqual({
      type: 'history',
      conversationId,
      messages: [],
    });
    const rest = await fetch(`${gw.url}/v1/conversations/${conversationId}/messages`, {
      headers: { authorization: 'Bearer key-alice' },
    });
    expect(rest.status).toBe(200);
    expect(await rest.json()).toEqual({ conversationId, messages: [] });

    gw.emulator.enqueue({ blocks: [{ text: 'From the second socket.' }] });
    const turn = checkTurn(await second.chat('hello', { conversationId }));
    expect(turn.text).toBe('From the second socket.');
    // The first socket watches its ready conversation only once it subscribes; history has it.
    const history = await answer(first, { type: 'history', conversationId }, 'history');
    expect((history.messages as { content: string }[]).map((m) => m.content)).toEqual([
      'hello',
      'From the second socket.',
    ]);
  });

  it('is forbidden to another user, over WebSocket and REST (404)', async () => {
    const alice = await as('key-alice');
    const bob = await as('key-bob');
    const conversationId = alice.ready.conversationId;
    for (const frame of [
      { type: 'subscribe', conversationId },
      { type: 'history', conversationId },
      { type: 'chat', content: 'mine now', conversationId },
      { type: 'cancel', conversationId },
    ]) {
      expect(await answer(bob, frame, 'never')).toMatchObject({ type: 'error', code: 'forbidden' });
    }
    const rest = await fetch(`${gw.url}/v1/conversations/${conversationId}/messages`, {
      headers: { authorization: 'Bearer key-bob' },
    });
    expect(rest.status).toBe(404);
  });

  it('keeps ids nobody was given, forged ones and deleted ones not_found', async () => {
    const alice = await as('key-alice');
    const real = alice.ready.conversationId;
    const forged = [
      `c_${randomBytes(32).toString('base64url')}`,
      `c_${randomBytes(12).toString('base64url')}`,
      `c_${real[2] === 'A' ? 'B' : 'A'}${real.slice(3)}`,
      `${real}x`,
      'c_',
      'not-an-id',
    ];
    for (const conversationId of forged) {
      expect(
        await answer(alice, { type: 'subscribe', conversationId }, 'subscribed'),
      ).toMatchObject({ type: 'error', code: 'not_found' });
    }
    const other = await as('key-alice');
    const deleted = other.ready.conversationId;
    const gone = await fetch(`${gw.url}/v1/conversations/${deleted}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer key-alice' },
    });
    expect(gone.status).toBe(204);
    expect(
      await answer(alice, { type: 'history', conversationId: deleted }, 'history'),
    ).toMatchObject({ type: 'error', code: 'not_found' });
    expect((await other.chat('still mine?'))[0]).toMatchObject({
      type: 'error',
      code: 'not_found',
    });
  });
});

describe('conversation ids', () => {
  const secret = randomBytes(32);
  const ids = new ConversationIds(async () => secret, 60_000);

  it('tells the caller, another user and strangers apart', async () => {
    const id = await ids.issue('alice');
    expect(await ids.ownerOf(id, 'alice')).toBe('caller');
    expect(await ids.ownerOf(id, 'bob')).toBe('another user');
    expect(await ids.ownerOf(`c_${randomBytes(32).toString('base64url')}`, 'alice')).toBe(
      'unknown',
    );
  });

  it('stops recognising an id after its lifetime', async () => {
    const id = await ids.issue('alice', Date.now() - 61_000);
    expect(await ids.ownerOf(id, 'alice')).toBe('unknown');
    expect(await ids.ownerOf(await ids.issue('alice', Date.now() - 30_000), 'alice')).toBe(
      'caller',
    );
  });

  it('does not recognise ids signed with another secret (a store that lost its data)', async () => {
    const id = await ids.issue('alice');
    const after = new ConversationIds(async () => randomBytes(32), 60_000);
    expect(await after.ownerOf(id, 'alice')).toBe('unknown');
  });
});
