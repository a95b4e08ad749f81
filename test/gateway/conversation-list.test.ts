import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConversationSummary } from '../../src/gateway/conversations.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from '../redis/fixture.ts';

// docs/protocol.md, HTTP routes: `GET /v1/conversations` lists the caller's conversations
// that had a turn, newest activity first, paged with an opaque cursor; History: the last
// assistant message of a turn carries the turn's `turn-end.usage`. On both stores.

interface ListBody {
  conversations: ConversationSummary[];
  next: string | null;
}

const redisPrefix = testPrefix();

describe.each([
  ['memory', {}],
  ['redis', { REDIS_URL, REDIS_KEY_PREFIX: redisPrefix }],
])('GET /v1/conversations (%s store)', (kind, env: Record<string, string>) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ AUTH_API_KEYS: 'key-alice:alice,key-bob:bob', ...env });
  });
  afterAll(async () => {
    await gw.close();
    if (kind === 'redis') {
      const admin = adminRedis();
      await deletePrefix(admin, redisPrefix);
      admin.disconnect();
    }
  });
  afterEach(async () => {
    await gw.closeClients();
    gw.emulator.reset();
  });

  const as = (user: string) => gw.connect(`?token=key-${user}`);
  const get = (path: string, user = 'alice') =>
    fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer key-${user}` } });
  async function list(user: string, query = ''): Promise<ListBody> {
    const response = await get(`/v1/conversations${query}`, user);
    expect(response.status).toBe(200);
    return (await response.json()) as ListBody;
  }
  async function turn(client: TestClient, content: string, extra: Record<string, unknown> = {}) {
    gw.emulator.enqueue({ blocks: [{ text: `Answer to ${content}.` }] });
    return checkTurn(await client.chat(content, extra));
  }

  it('lists a conversation once it had a turn, with its fields, to its owner only', async () => {
    // A user of their own, so that other tests' conversations are not in the way.
    const alice = await as('alice');
    const before = await list('alice');
    expect(before.conversations.map((c) => c.id)).not.toContain(alice.ready.conversationId);

    const { end } = await turn(alice, 'hello there');
    const id = alice.ready.conversationId;
    const mine = (await list('alice')).conversations.find((c) => c.id === id);
    expect(mine).toEqual({
      id,
      title: 'hello there',
      model: end.model,
      agent: 'default',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      runningTurnId: null,
    });
    // updatedAt is the turn's end: its history's time.
    const history = (await (await get(`/v1/conversations/${id}/messages`)).json()) as {
      messages: { createdAt: string }[];
    };
    expect(mine!.updatedAt).toBe(history.messages.at(-1)!.createdAt);
    expect(Date.parse(mine!.updatedAt)).toBeGreaterThanOrEqual(Date.parse(mine!.createdAt));

    // Bob never sees it, whatever he pages through.
    const bob = await as('bob');
    await turn(bob, 'bob here');
    const bobs = await list('bob', '?limit=100');
    expect(bobs.conversations.map((c) => c.id)).toEqual([bob.ready.conversationId]);
  });

  it('puts the newest activity first and pages with the cursor, no gap, no duplicate', async () => {
    const clients = [await as('alice'), await as('alice'), await as('alice')];
    for (const [i, client] of clients.entries()) await turn(client, `topic ${i}`);
    // Another turn in the first conversation moves it to the top.
    await turn(clients[0]!, 'topic 0 again', { conversationId: clients[0]!.ready.conversationId });
    const ids = clients.map((c) => c.ready.conversationId);
    const expected = [ids[0], ids[2], ids[1]];

    const first = await list('alice', '?limit=2');
    expect(first.conversations.map((c) => c.id)).toEqual(expected.slice(0, 2));
    expect(first.next).toEqual(expect.any(String));
    const rest: string[] = [];
    let next = first.next;
    while (next) {
      const page = await list('alice', `?limit=2&before=${encodeURIComponent(next)}`);
      rest.push(...page.conversations.map((c) => c.id));
      next = page.next;
    }
    const all = [...first.conversations.map((c) => c.id), ...rest];
    expect(all.slice(0, 3)).toEqual(expected);
    expect(new Set(all).size).toBe(all.length);
    const times = (await list('alice', '?limit=100')).conversations.map((c) =>
      Date.parse(c.updatedAt),
    );
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('shows the running turn, and the conversation at its start', async () => {
    const alice = await as('alice');
    const id = alice.ready.conversationId;
    gw.emulator.enqueue({ blocks: [{ text: 'thinking very slowly' }], hangAfterEvents: 3 });
    alice.send({ type: 'chat', content: 'take your time' });
    const start = await alice.next((f) => f.type === 'turn-start');
    const listed = (await list('alice')).conversations[0]!;
    expect(listed).toMatchObject({ id, runningTurnId: start.turnId });
    alice.send({ type: 'cancel', conversationId: id });
    await alice.next((f) => f.type === 'turn-end');
    const after = (await list('alice')).conversations[0]!;
    expect(after).toMatchObject({ id, runningTurnId: null });
    expect(Date.parse(after.updatedAt)).toBeGreaterThan(Date.parse(listed.updatedAt));
  });

  it('drops a deleted conversation from the list', async () => {
    const alice = await as('alice');
    await turn(alice, 'forget me');
    const id = alice.ready.conversationId;
    expect((await list('alice')).conversations[0]!.id).toBe(id);
    const deleted = await fetch(`${gw.url}/v1/conversations/${id}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer key-alice' },
    });
    expect(deleted.status).toBe(204);
    expect((await list('alice', '?limit=100')).conversations.map((c) => c.id)).not.toContain(id);
  });

  it.each([
    ['?limit=0', /limit must be a whole number from 1 to 100/],
    ['?limit=101', /limit must be a whole number from 1 to 100/],
    ['?limit=abc', /limit must be a whole number from 1 to 100/],
    ['?limit=1e1', /limit must be a whole number from 1 to 100/],
    ['?limit=2&limit=3', /limit must be a whole number from 1 to 100/],
    ['?before=nonsense', /before must be the next cursor of a previous page/],
    ['?before=', /before must be the next cursor of a previous page/],
    [
      `?before=${Buffer.from('[-1,"c_x"]').toString('base64url')}`,
      /before must be the next cursor/,
    ],
  ])('refuses %s with 400 bad_frame', async (query, message) => {
    const response = await get(`/v1/conversations${query}`);
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(body).toEqual({
      error: { code: 'bad_frame', message: expect.stringMatching(message), retryable: false },
    });
  });

  it('needs a token', async () => {
    const response = await fetch(`${gw.url}/v1/conversations`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'unauthorized' } });
  });
});

describe.each([
  ['memory', {}],
  ['redis', { REDIS_URL, REDIS_KEY_PREFIX: redisPrefix }],
])('usage in history (%s store)', (kind, env: Record<string, string>) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway(env);
  });
  afterAll(async () => {
    await gw.close();
    if (kind === 'redis') {
      const admin = adminRedis();
      await deletePrefix(admin, redisPrefix);
      admin.disconnect();
    }
  });
  afterEach(async () => {
    await gw.closeClients();
    gw.emulator.reset();
  });

  async function history(client: TestClient): Promise<Frame[]> {
    const since = client.frames.length;
    client.send({ type: 'history' });
    const frame = await client.next((f) => f.type === 'history', 5_000, since);
    return frame.messages as Frame[];
  }

  it("keeps a turn's turn-end usage on its last assistant message", async () => {
    const client = await gw.connect();
    gw.emulator.enqueue({
      blocks: [{ toolUse: { name: 'calculator', input: { expression: '6*7' } } }],
      usage: { inputTokens: 30, outputTokens: 7 },
    });
    gw.emulator.enqueue({
      blocks: [{ text: 'It is 42.' }],
      usage: { inputTokens: 50, outputTokens: 5 },
    });
    const { end } = checkTurn(await client.chat('what is 6*7?'));
    expect(end.usage).toEqual({
      inputTokens: 80,
      outputTokens: 12,
      totalTokens: 92,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      // The default model (Claude 3.5 Sonnet v2) at $3 in and $15 out per million tokens.
      costUsd: (80 * 3 + 12 * 15) / 1e6,
    });
    const messages = await history(client);
    expect(messages.map((m) => [m.role, m.usage])).toEqual([
      ['user', undefined],
      ['assistant', undefined],
      ['tool', undefined],
      ['assistant', end.usage],
    ]);
    // The same over REST.
    const rest = (await (
      await fetch(`${gw.url}/v1/conversations/${client.ready.conversationId}/messages`)
    ).json()) as { messages: Frame[] };
    expect(rest.messages.at(-1)!.usage).toEqual(end.usage);
  });

  it('keeps the usage of a cancelled turn with its kept text', async () => {
    const client = await gw.connect();
    gw.emulator.enqueue({
      blocks: [{ toolUse: { name: 'calculator', input: { expression: '1+1' } } }],
      usage: { inputTokens: 20, outputTokens: 4 },
    });
    gw.emulator.enqueue({ blocks: [{ text: 'Still working on it' }], hangAfterEvents: 4 });
    client.send({ type: 'chat', content: 'slowly, 1+1' });
    await client.next((f) => f.type === 'token');
    client.send({ type: 'cancel', conversationId: client.ready.conversationId });
    const end = await client.next((f) => f.type === 'turn-end');
    expect(end.stopReason).toBe('cancelled');
    expect(end.usage).toEqual({
      inputTokens: 20,
      outputTokens: 4,
      totalTokens: 24,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      // Only the call that completed is counted, and priced.
      costUsd: (20 * 3 + 4 * 15) / 1e6,
    });
    const last = (await history(client)).at(-1)!;
    expect(last).toMatchObject({ role: 'assistant', stopReason: 'cancelled', usage: end.usage });
    expect(end.text).toContain(last.content as string);
  });
});
