import type net from 'node:net';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { captureLogs, closedPort, withHome } from '../helpers/env.ts';
import {
  startGateway,
  type TestGateway,
  withGateway as withTestGateway,
} from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

/** A gateway on the shared emulator, reset for each use. */
function withGateway<T>(
  env: Record<string, string>,
  fn: (gw: TestGateway) => Promise<T>,
  logTo?: Writable,
): Promise<T> {
  emulator.reset();
  return withTestGateway(env, fn, { emulator, ...(logTo ? { logTo } : {}) });
}

describe('operations', () => {
  it('logs each LangChain stream event with LOG_STREAM_EVENTS', async () => {
    const { lines, sink } = captureLogs();
    await withGateway(
      { LOG_STREAM_EVENTS: 'true', LOG_LEVEL: 'info' },
      async (gw) => {
        const client = await gw.connect();
        emulator.enqueue({ blocks: [{ text: 'logged answer' }] });
        await client.chat('log it');
      },
      sink,
    );
    const events = lines
      .map((l) => JSON.parse(l).msg as string)
      .filter((m) => m?.startsWith('[Stream Event]'));
    expect(
      events.some((m) => /^\[Stream Event\] on_chat_model_stream [0-9a-f-]{36}$/.test(m)),
    ).toBe(true);
    expect(events.some((m) => m.startsWith('[Stream Event] on_chat_model_end '))).toBe(true);
    expect(lines.join('')).not.toContain('test-secret');
  });

  it('closes every socket with 1001 on shutdown and lets the running turn finish', async () => {
    emulator.reset();
    const gw = await startGateway({}, emulator);
    const client = await gw.connect();
    emulator.enqueue({
      blocks: [{ text: 'finishing before shutdown' }],
      chunkChars: 2,
      delayMs: 5,
    });
    client.send({ type: 'chat', content: 'one last thing' });
    await client.next((f) => f.type === 'token');
    await gw.app.close();
    expect((await client.closed).code).toBe(1001);
    // The model was asked to the end: the turn was not cut off by the shutdown.
    expect(emulator.requests).toHaveLength(1);
    expect(emulator.requests[0]!.aborted).toBe(false);
    await gw.close();
  });

  it('never logs a token, whether sent in the query or as a Bearer header', async () => {
    const { lines, sink } = captureLogs();
    await withGateway(
      { AUTH_API_KEYS: 'key-that-must-stay-secret:alice', LOG_LEVEL: 'trace' },
      async (gw) => {
        const client = await gw.connect('?token=key-that-must-stay-secret');
        emulator.enqueue({ blocks: [{ text: 'hi alice' }] });
        await client.chat('hello');
        await client.close();
        const rest = await fetch(`${gw.url}/v1/models`, {
          headers: { authorization: 'Bearer key-that-must-stay-secret' },
        });
        expect(rest.status).toBe(200);
      },
      sink,
    );
    expect(lines.some((l) => l.includes('/v1/ws'))).toBe(true);
    expect(lines.join('')).not.toContain('key-that-must-stay-secret');
  });

  it('keeps AWS secrets and signatures out of the logs of failed turns', async () => {
    const { lines, sink } = captureLogs();
    await withGateway(
      { LOG_LEVEL: 'trace', BEDROCK_MAX_ATTEMPTS: '2' },
      async (gw) => {
        const client = await gw.connect();
        for (const error of [
          'AccessDeniedException',
          'ThrottlingException',
          'ValidationException',
        ] as const) {
          emulator.enqueue({ error }, { error });
          const frames = await client.chat(`fail with ${error}`);
          expect(frames.find((f) => f.type === 'error')).toBeDefined();
        }
      },
      sink,
    );
    const text = lines.join('');
    expect(text).toContain('turn failed');
    expect(text).not.toContain('test-secret');
    expect(text).not.toContain('Signature=');
  });

  it('sends only the newest turns that fit MAX_CONTEXT_TOKENS, and keeps the history whole', async () => {
    await withGateway({ MAX_CONTEXT_TOKENS: '1000' }, async (gw) => {
      const client = await gw.connect();
      for (let i = 0; i < 6; i++) {
        emulator.enqueue({ blocks: [{ text: `answer ${i} ${'z'.repeat(1200)}` }] });
        checkTurn(await client.chat(`question ${i}`));
      }
      const sent = emulator.requests.at(-1)!.body as {
        messages: { role: string; content: { text?: string }[] }[];
      };
      expect(sent.messages.length).toBeLessThan(11);
      expect(sent.messages[0]!.role).toBe('user');
      expect(sent.messages.at(-1)!.content[0]!.text).toBe('question 5');
      client.send({ type: 'history', conversationId: client.ready.conversationId });
      const history = await client.next((f) => f.type === 'history');
      expect(history.messages).toHaveLength(12);
    });
  });

  it('ends a turn with bedrock_unreachable when the endpoint is closed', async () => {
    const port = await closedPort();
    await withGateway(
      { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: `http://127.0.0.1:${port}` },
      async (gw) => {
        const client = await gw.connect();
        const frames = await client.chat('anyone there?');
        const { end } = checkTurn(frames);
        const error = frames.find((f) => f.type === 'error')!;
        expect(error).toMatchObject({ code: 'bedrock_unreachable', retryable: true });
        expect((error.hints as string[]).join(' ')).toMatch(/region/i);
        expect(end.stopReason).toBe('error');
      },
    );
  });

  it('ends a turn with aws_credentials_missing and its hints when no credentials exist', async () => {
    await withHome({}, () =>
      withGateway({ AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' }, async (gw) => {
        const client = await gw.connect();
        const frames = await client.chat('hello?');
        const error = frames.find((f) => f.type === 'error')!;
        expect(error.code).toBe('aws_credentials_missing');
        const hints = (error.hints as string[]).join(' ');
        for (const remedy of [
          'aws configure',
          'AWS_PROFILE',
          'aws sso login',
          'bedrock:InvokeModel',
        ]) {
          expect(hints).toContain(remedy);
        }
        expect(emulator.requests).toHaveLength(0);
      }),
    );
  });

  it('closes a socket that stops reading with 1013 and keeps serving others', async () => {
    await withGateway({ MAX_CLIENT_BUFFER_BYTES: '65536' }, async (gw) => {
      const slow = await gw.connect();
      const fast = await gw.connect();
      const raw = (slow.socket as unknown as { _socket: net.Socket })._socket;
      raw.pause();
      emulator.enqueue({ blocks: [{ text: 'x'.repeat(30_000_000) }], chunkChars: 8000 });
      slow.send({ type: 'chat', content: 'flood me' });
      // The gateway starts the closing handshake; the paused client cannot answer it yet.
      const closing = () =>
        [...gw.app.websocketServer.clients].some((c) => c.readyState === c.CLOSING);
      for (let i = 0; i < 300 && !closing(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(closing()).toBe(true);
      fast.send({ type: 'ping', id: 'still' });
      expect(await fast.next((f) => f.type === 'pong')).toEqual({ type: 'pong', id: 'still' });
      raw.resume();
      expect((await slow.closed).code).toBe(1013);
    });
  });

  it('refuses sockets over MAX_SOCKETS_PER_USER with rate_limited and 1013', async () => {
    await withGateway({ MAX_SOCKETS_PER_USER: '2' }, async (gw) => {
      await gw.connect();
      await gw.connect();
      const third = new WebSocket(gw.wsUrl);
      const frames: { type: string; code?: string }[] = [];
      third.on('message', (data) => frames.push(JSON.parse(String(data))));
      const closed = await new Promise<number>((resolve) =>
        third.on('close', (code) => resolve(code)),
      );
      expect(closed).toBe(1013);
      expect(frames).toEqual([expect.objectContaining({ type: 'error', code: 'rate_limited' })]);
    });
  });

  it('refuses a chat over MAX_TURNS_PER_USER with rate_limited', async () => {
    await withGateway({ MAX_TURNS_PER_USER: '1' }, async (gw) => {
      const a = await gw.connect();
      const b = await gw.connect();
      emulator.enqueue({ blocks: [{ text: 'slow one' }], hangAfterEvents: 2 });
      a.send({ type: 'chat', content: 'first' });
      await a.next((f) => f.type === 'token');
      b.send({ type: 'chat', content: 'second', requestId: 'b1' });
      const error = await b.next((f) => f.type === 'error');
      expect(error).toMatchObject({ code: 'rate_limited', retryable: true, requestId: 'b1' });
      a.send({ type: 'cancel', conversationId: a.ready.conversationId });
      await a.next((f) => f.type === 'turn-end');
      emulator.enqueue({ blocks: [{ text: 'now it works' }] });
      expect(checkTurn(await b.chat('second again')).end.text).toBe('now it works');
    });
  });
});
