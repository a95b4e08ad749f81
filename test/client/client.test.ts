import { getEventListeners } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  AgentgateError,
  type Client,
  type ConnectOptions,
  connect,
  type Resync,
  type StateChange,
  type TurnFrame,
  type WatchItem,
} from '../../src/client/index.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { closedPort } from '../helpers/env.ts';
import { startGateway, type TestGateway, withGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame } from '../helpers/ws-client.ts';

// The client library against a real gateway (the Bedrock emulator behind it) over real
// sockets. Sockets are `ws`'s, counted so that a test can drop one or hold reconnects back.

/** Every socket a client opened, in order; `gate` sends new ones to a closed port. */
const sockets: TrackedWebSocket[] = [];
const gate = { open: true, closedUrl: '' };

class TrackedWebSocket extends WebSocket {
  /** Frames received while set are dropped, as if lost on the way. */
  deaf = false;
  constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(gate.open ? url : gate.closedUrl, protocols, options);
    sockets.push(this);
  }
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'message' && this.deaf) return false;
    return super.emit(event, ...args);
  }
}

let emulator: Emulator;
let gw: TestGateway;
const clients: Client[] = [];

beforeAll(async () => {
  gate.closedUrl = `ws://127.0.0.1:${await closedPort()}/v1/ws`;
  emulator = await startEmulator({ paceMs: 0 });
  gw = await startGateway({ APPROVAL_REQUIRED_TOOLS: 'calculator' }, emulator);
});
afterAll(async () => {
  await gw.close();
  await emulator.close();
});
afterEach(async () => {
  gate.open = true;
  await Promise.all(clients.splice(0).map((c) => c.close()));
  emulator.reset();
});

/**
 * Cuts a client's socket off, and keeps it off, while an observer's watch sees the rest of
 * the turn pass (through its turn-end); then lets it reconnect.
 */
async function cutOffWhileTurnPasses(own: TrackedWebSocket, seen: AsyncIterable<WatchItem>) {
  gate.open = false;
  own.terminate();
  for await (const item of seen) if (item.type === 'turn-end') break;
  gate.open = true;
}

async function open(options: Partial<ConnectOptions> = {}): Promise<Client> {
  const client = await connect({
    url: gw.wsUrl,
    WebSocket: TrackedWebSocket,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    ...options,
  });
  clients.push(client);
  return client;
}

/** Every frame of an async iterable, with what it threw. */
async function drain<T>(items: AsyncIterable<T>): Promise<{ items: T[]; error?: unknown }> {
  const seen: T[] = [];
  try {
    for await (const item of items) seen.push(item);
  } catch (error) {
    return { items: seen, error };
  }
  return { items: seen };
}

/** Seqs grow by exactly one: no gap, no duplicate. */
function expectContiguous(frames: { seq: number }[]): void {
  const seqs = frames.map((f) => f.seq);
  expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
}

const text = (n: number) =>
  Array.from({ length: n }, (_, i) => `w${i} `)
    .join('')
    .slice(0, n);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const until = async (check: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('chat', () => {
  it('gives the turn frames in order and ends with the turn-end; the text is the tokens joined', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'Hello there, how can I help?' }], chunkChars: 3 });
    const turn = client.chat('hi');
    const { items, error } = await drain(turn);
    expect(error).toBeUndefined();
    checkTurn(items as unknown as Frame[]);
    const end = await turn.end;
    expect(end).toEqual(items.at(-1));
    expect(end.text).toBe('Hello there, how can I help?');
    expect(turn.text).toBe(end.text);
    expect(await turn.turnId).toBe(end.turnId);
    expect(end.conversationId).toBe(client.conversationId);
    // A second reader sees the same frames from the first.
    expect((await drain(turn)).items).toEqual(items);
  });

  it('refuses a chat while a turn runs with a typed error, and cancel stops the running one', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'thinking slowly about it' }], hangAfterEvents: 3 });
    const first = client.chat('take your time');
    const turnId = await first.turnId;
    const second = client.chat('and this?');
    const refused = await second.end.catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AgentgateError);
    expect(refused).toMatchObject({
      code: 'turn_in_progress',
      retryable: true,
      requestId: second.requestId,
    });
    const thrown = await drain(second);
    expect(thrown.items).toEqual([]);
    expect(thrown.error).toBe(refused);
    await expect(second.turnId).rejects.toBe(refused);

    // A cancel naming another turn does nothing; one naming it stops it.
    await client.cancel(client.conversationId, 't_not_running');
    await client.cancel(client.conversationId, turnId);
    const end = await first.end;
    expect(end.stopReason).toBe('cancelled');
    checkTurn((await drain(first)).items as unknown as Frame[]);
  });

  it('cancels a turn when the chat signal aborts', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'never finishing this one' }], hangAfterEvents: 2 });
    const abort = new AbortController();
    const turn = client.chat('go slowly', { signal: abort.signal });
    await turn.turnId;
    abort.abort();
    expect((await turn.end).stopReason).toBe('cancelled');
  });

  it('leaves no listener on a long-lived signal shared by many chats once they settle', async () => {
    const client = await open();
    const shared = new AbortController();
    for (const n of [1, 2, 3]) {
      emulator.enqueue({ blocks: [{ text: `Answer ${n}.` }] });
      const turn = client.chat(`question ${n}`, { signal: shared.signal });
      expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
      expect((await turn.end).text).toBe(`Answer ${n}.`);
    }
    const refused = client.chat('hi', { model: 'no-such-model', signal: shared.signal });
    await expect(refused.end).rejects.toMatchObject({ code: 'unknown_model' });
    expect(getEventListeners(shared.signal, 'abort')).toEqual([]);
  });

  it('rejects a chat with unknown_model, not retryable', async () => {
    const client = await open();
    const turn = client.chat('hi', { model: 'no-such-model' });
    await expect(turn.end).rejects.toMatchObject({ code: 'unknown_model', retryable: false });
  });
});

describe('the per-socket frame rate', () => {
  it('refuses chats over it with rate_limited, and none of them hangs', async () => {
    await withGateway(
      { RATE_LIMIT_FRAMES_PER_SEC: '1' },
      async (limited) => {
        const client = await open({ url: limited.wsUrl });
        emulator.enqueue({ blocks: [{ text: 'First.' }] });
        // A burst of two frames passes: the first chat runs, the second finds it running.
        const turns = [1, 2, 3, 4].map((n) => client.chat(`chat ${n}`));
        const outcomes = await Promise.all(
          turns.map((t) =>
            t.end.then(
              (end) => end.stopReason,
              (e: AgentgateError) => e.code,
            ),
          ),
        );
        expect(outcomes).toEqual(['end_turn', 'turn_in_progress', 'rate_limited', 'rate_limited']);
      },
      { emulator },
    );
  });

  it('gives a rate_limited without requestId to the oldest frame sent: the chat, not the history() sent after it', async () => {
    await withGateway(
      { RATE_LIMIT_FRAMES_PER_SEC: '1' },
      async (limited) => {
        const client = await open({ url: limited.wsUrl });
        // The burst (two frames) goes on a cancel and its ping.
        await client.cancel(client.conversationId);
        const socket = sockets.at(-1)!;
        // The client reads nothing for a while: the chat's refusal waits in the socket
        // until the history() sent after it has gone out.
        socket.pause();
        const turn = client.chat('too soon');
        const refused = turn.end.catch((e: unknown) => e);
        await pause(1200);
        // A second later the bucket has a token again: this one is answered.
        const history = client.history();
        await pause(100);
        socket.resume();
        await expect(history).resolves.toEqual([]);
        expect(await refused).toMatchObject({ code: 'rate_limited', retryable: true });
      },
      { emulator },
    );
  });
});

describe('approve', () => {
  it('answers a request for approval; the tool runs and the turn goes on', async () => {
    const client = await open();
    emulator.enqueue(
      {
        blocks: [
          { toolUse: { toolUseId: 'tu_ok', name: 'calculator', input: { expression: '6*7' } } },
        ],
      },
      { blocks: [{ text: 'It is 42.' }] },
    );
    const turn = client.chat('what is 6*7?');
    const frames: TurnFrame[] = [];
    for await (const frame of turn) {
      frames.push(frame);
      if (frame.type === 'approval-request') {
        await client.approve(frame.conversationId, frame.toolCallId, 'approve');
      }
    }
    checkTurn(frames as unknown as Frame[]);
    expect(frames.find((f) => f.type === 'approval-result')).toMatchObject({
      toolCallId: 'tu_ok',
      decision: 'approve',
      decidedBy: 'anonymous',
    });
    expect(frames.find((f) => f.type === 'tool-end')).toMatchObject({
      output: '42',
      isError: false,
    });
    expect((await turn.end).text).toBe('It is 42.');
  });

  it('rejects an answer nothing waits for with no_pending_approval', async () => {
    const client = await open();
    await expect(
      client.approve(client.conversationId, 'tu_nothing', 'reject', 'no'),
    ).rejects.toMatchObject({ code: 'no_pending_approval', retryable: false });
    // The client goes on: a request after it is answered.
    expect(await client.history()).toEqual([]);
  });

  it('does not send an approve again after a drop once its approval-result came in the replay', async () => {
    const observer = await open({ reconnect: false });
    const client = await open();
    const own = sockets.at(-1)!;
    emulator.enqueue(
      {
        blocks: [
          { toolUse: { toolUseId: 'tu_drop', name: 'calculator', input: { expression: '6*7' } } },
        ],
      },
      { blocks: [{ text: 'It is 42.' }] },
    );
    const turn = client.chat('what is 6*7?');
    for await (const frame of turn) if (frame.type === 'approval-request') break;
    const seen = observer.subscribe(client.conversationId);
    await seen.subscribed;
    // The approve is taken, but neither its approval-result nor its pong reach the client.
    own.deaf = true;
    const approving = client.approve(client.conversationId, 'tu_drop', 'approve');
    for await (const item of seen) if (item.type === 'approval-result') break;
    own.terminate();
    // Sent again, it would meet no_pending_approval.
    await expect(approving).resolves.toBeUndefined();
    expect((await turn.end).text).toBe('It is 42.');
    const frames = (await drain(turn)).items;
    expect(frames.filter((f) => f.type === 'approval-result')).toMatchObject([
      { toolCallId: 'tu_drop', decision: 'approve' },
    ]);
  });

  it('sends a cancel again after a drop only while the turn it was for still runs', async () => {
    const tab = await open();
    const client = await open();
    const own = sockets.at(-1)!;
    emulator.enqueue(
      { blocks: [{ text: 'never finishing this one' }], hangAfterEvents: 2 },
      { blocks: [{ text: text(200) }], chunkChars: 2, delayMs: 10 },
    );
    const conversationId = client.conversationId;
    const first = client.chat('go slowly');
    await first.turnId;
    const seen = tab.subscribe(conversationId);
    await seen.subscribed;
    // The cancel is taken (the first turn ends), but nothing of it reaches the client.
    own.deaf = true;
    const cancelling = client.cancel(conversationId);
    for await (const item of seen) if (item.type === 'turn-end') break;
    // Another tab starts the next turn; then the client's socket drops.
    const second = tab.chat('and now this', { conversationId });
    await second.turnId;
    own.terminate();
    await expect(cancelling).resolves.toBeUndefined();
    expect((await first.end).stopReason).toBe('cancelled');
    // Sent again, the cancel would have stopped this newer turn.
    expect((await second.end).stopReason).toBe('end_turn');
  });
});

describe('subscribe and history', () => {
  it('lets a second client watch the same frames, and load the history', async () => {
    const alice = await open();
    const tab = await open();
    const conversationId = alice.conversationId;
    const watch = tab.subscribe(conversationId);
    expect(await watch.subscribed).toMatchObject({
      conversationId,
      lastSeq: 0,
      runningTurnId: null,
    });
    const seen: WatchItem[] = [];
    const reading = (async () => {
      for await (const item of watch) {
        seen.push(item);
        if (item.type === 'turn-end') break;
      }
    })();
    emulator.enqueue({ blocks: [{ text: 'Same for everyone.' }] });
    const turn = alice.chat('hello all');
    const mine = (await drain(turn)).items;
    await reading;
    expect(seen).toEqual(mine);

    const messages = await tab.history(conversationId);
    expect(messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'hello all'],
      ['assistant', 'Same for everyone.'],
    ]);
    expect(await alice.history(conversationId, { limit: 1 })).toHaveLength(1);
    watch.unsubscribe();
  });

  it('fails a watch and a history of a conversation that does not exist with not_found', async () => {
    const client = await open();
    const watch = client.subscribe('c_nope');
    await expect(watch.subscribed).rejects.toMatchObject({ code: 'not_found' });
    await expect(drain(watch)).resolves.toMatchObject({ error: { code: 'not_found' } });
    await expect(client.history('c_nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(client.cancel('c_nope')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('replays from afterSeq to a watch', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'One two three.' }] });
    const first = await client.chat('count').end;
    const other = await open();
    const watch = other.subscribe(client.conversationId, { afterSeq: 2 });
    const items: WatchItem[] = [];
    for await (const item of watch) {
      items.push(item);
      if (item.type === 'turn-end') break;
    }
    expect((items[0] as TurnFrame).seq).toBe(3);
    expect(items.at(-1)).toEqual(first);
    expectContiguous(items as TurnFrame[]);
  });
});

describe('reconnecting', () => {
  it('drops the socket mid-turn, resumes with afterSeq, and the turn completes exact', async () => {
    const client = await open();
    const states: StateChange[] = [];
    client.on('state', (s) => states.push(s));
    const received: TurnFrame[] = [];
    client.on('frame', (f) => {
      if ('seq' in f) received.push(f);
    });
    const answer = text(400);
    emulator.enqueue({ blocks: [{ text: answer }], chunkChars: 4, delayMs: 5 });
    const before = sockets.length;
    const turn = client.chat('tell me a long story');
    const frames: TurnFrame[] = [];
    let dropped = false;
    for await (const frame of turn) {
      frames.push(frame);
      if (!dropped && frames.filter((f) => f.type === 'token').length === 5) {
        dropped = true;
        sockets.at(-1)!.terminate();
      }
    }
    expect(dropped).toBe(true);
    expect(sockets.length).toBe(before + 1);
    expect(states.map((s) => s.state)).toEqual(['reconnecting', 'open']);
    expect(states[0]!.close?.code).toBe(1006);
    checkTurn(frames as unknown as Frame[]);
    expectContiguous(frames);
    expect((await turn.end).text).toBe(answer);
    // What came over the wire had no duplicate either: the resubscribe named afterSeq.
    expect(new Set(received.map((f) => f.seq)).size).toBe(received.length);
    expectContiguous(received);
  });

  it('a chat whose socket drops as it is sent runs exactly once', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'Only once.' }] });
    const turn = client.chat('once please');
    sockets.at(-1)!.terminate();
    const end = await turn.end;
    expect(end.text).toBe('Only once.');
    const history = await client.history();
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual(['once please']);
  });

  it('sends again a chat that was lost with its socket, once', async () => {
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'Sent twice, run once.' }] });
    const socket = sockets.at(-1)!;
    // The chat frame never leaves: the socket dies with it in its buffer.
    socket.send = (() => {}) as typeof socket.send;
    const turn = client.chat('are you there?');
    socket.terminate();
    expect((await turn.end).text).toBe('Sent twice, run once.');
    expect(emulator.requests).toHaveLength(1);
    const history = await client.history();
    expect(history.filter((m) => m.role === 'user').map((m) => m.content)).toEqual([
      'are you there?',
    ]);
  });

  it('after a replay_gap, reloads the history, emits resync, and the watch goes on', async () => {
    const observer = await open({ reconnect: false });
    const client = await open();
    const own = sockets.at(-1)!;
    const conversationId = client.conversationId;
    const watch = client.subscribe(conversationId);
    await watch.subscribed;
    const resyncs: Resync[] = [];
    client.on('resync', (r) => resyncs.push(r));
    const items: WatchItem[] = [];
    void (async () => {
      for await (const item of watch) items.push(item);
    })();

    // A turn of 3,000 tokens: over the 1,000 frames the gateway retains.
    const answer = text(3000);
    emulator.enqueue({ blocks: [{ text: answer }], chunkChars: 1 });
    const seen = observer.subscribe(conversationId);
    await seen.subscribed;
    const turn = client.chat('say a lot');
    await turn.turnId;
    await cutOffWhileTurnPasses(own, seen);

    const lost = await turn.end.catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: 'replay_gap', conversationId });
    await until(() => resyncs.length === 1);
    const [resync] = resyncs;
    expect(resync!.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    expect(resync!.messages[1]!.content).toBe(answer);
    expect(resync!.lastSeq).toBe(3002);

    // Frames go on after the gap: the next turn reaches the watch whole.
    emulator.enqueue({ blocks: [{ text: 'Short now.' }] });
    const next = client.chat('briefly');
    const end = await next.end;
    await until(() => (items.at(-1) as TurnFrame | undefined)?.seq === end.seq);
    const at = items.indexOf(resync!);
    expect(at).toBeGreaterThan(0);
    const after = items.slice(at + 1) as TurnFrame[];
    expect(after[0]!.seq).toBe(3003);
    expectContiguous(after);
    expectContiguous(items.slice(0, at) as TurnFrame[]);
    expect(after.at(-1)).toEqual(end);
  }, 30_000);

  it('does not send again a chat whose resubscribe met a replay_gap: it fails with replay_gap, and ran once', async () => {
    const observer = await open({ reconnect: false });
    const client = await open();
    const own = sockets.at(-1)!;
    const conversationId = client.conversationId;
    const resyncs: Resync[] = [];
    client.on('resync', (r) => resyncs.push(r));
    // A turn of 3,000 tokens (over the 1,000 frames the gateway retains), and an answer
    // for a second run, which must not happen.
    const answer = text(3000);
    emulator.enqueue(
      { blocks: [{ text: answer }], chunkChars: 1 },
      { blocks: [{ text: 'Ran twice.' }] },
    );
    // The conversation exists once a client watched it; the observer sees the turn pass.
    await client.subscribe(conversationId).subscribed;
    const seen = observer.subscribe(conversationId);
    await seen.subscribed;
    // The chat goes out, but what comes back is lost: no turn-start reaches the client.
    own.deaf = true;
    const turn = client.chat('say a lot');
    for await (const item of seen) if (item.type === 'turn-start') break;
    await cutOffWhileTurnPasses(own, seen);

    const lost = await turn.end.catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: 'replay_gap', conversationId });
    await until(() => resyncs.length === 1);
    expect(resyncs[0]!.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    await pause(200);
    expect(emulator.requests).toHaveLength(1);
    const users = (await client.history()).filter((m) => m.role === 'user');
    expect(users.map((m) => m.content)).toEqual(['say a lot']);
  }, 30_000);
});
