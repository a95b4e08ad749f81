import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { buildApp } from '../../src/app.ts';
import {
  AgentgateError,
  backoffDelay,
  Client,
  type ConnectOptions,
  connect,
  type StateChange,
  type WebSocketConstructor,
  type WebSocketLike,
} from '../../src/client/index.ts';
import { TOKEN_CHECK_TIMEOUT_MS, tokenRefused } from '../../src/client/socket.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { closedPort } from '../helpers/env.ts';
import { startGateway, testEnv, withGateway } from '../helpers/gateway.ts';

// How the client connects, and when it stops trying: tokens both ways, refusals that no
// retry can fix, close codes that are worth a retry.

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

/** Counts the sockets opened through it. */
function counting(): { WebSocket: WebSocketConstructor; opened: () => number } {
  let opened = 0;
  class Counted extends WebSocket {
    constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
      super(url, protocols, options);
      opened += 1;
    }
  }
  return { WebSocket: Counted, opened: () => opened };
}

/**
 * A WebSocket that tells what a browser tells: no HTTP status for a refused upgrade, no
 * headers sent (so the token must go in the query). Built on `ws`, delegating.
 */
function browserLike(): { WebSocket: WebSocketConstructor; opened: () => number } {
  let opened = 0;
  class BrowserLike implements WebSocketLike {
    readonly #ws: WebSocket;
    constructor(url: string) {
      this.#ws = new WebSocket(url);
      opened += 1;
    }
    get readyState() {
      return this.#ws.readyState;
    }
    send(data: string) {
      this.#ws.send(data);
    }
    close(code?: number, reason?: string) {
      this.#ws.close(code, reason);
    }
    addEventListener(type: string, listener: (event: never) => void) {
      const call = listener as (event: unknown) => void;
      if (type === 'open') this.#ws.on('open', () => call({}));
      if (type === 'error') this.#ws.on('error', () => call({}));
      if (type === 'close') {
        this.#ws.on('close', (code, reason) => call({ code, reason: String(reason) }));
      }
      if (type === 'message') {
        this.#ws.on('message', (data, isBinary) => call({ data: isBinary ? data : String(data) }));
      }
    }
  }
  return { WebSocket: BrowserLike, opened: () => opened };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tokens', () => {
  it('sends the token as a header (Node) or as ?token= (browsers), and stops at once when it is refused', async () => {
    await withGateway(
      { AUTH_API_KEYS: 'key-alice:alice' },
      async (gw) => {
        const base = { url: gw.wsUrl, reconnect: { initialDelayMs: 10, maxDelayMs: 20 } };
        const byHeader = await connect({ ...base, WebSocket, token: 'key-alice' });
        expect(byHeader.ready.userId).toBe('alice');
        await byHeader.close();
        const browser = browserLike();
        const byQuery = await connect({
          ...base,
          ...browser,
          token: 'key-alice',
          tokenVia: 'query',
        });
        expect(byQuery.ready.userId).toBe('alice');
        await byQuery.close();

        // `ws` says 401; a browser says nothing, and the client asks GET /v1/models instead.
        for (const socket of [counting(), browserLike()]) {
          const states: StateChange[] = [];
          const client = new Client({ ...base, ...socket, token: 'wrong', tokenVia: 'query' });
          client.on('state', (s) => states.push(s));
          const refused = await client.opened.catch((e: unknown) => e);
          expect(refused).toBeInstanceOf(AgentgateError);
          expect(refused).toMatchObject({ code: 'unauthorized', retryable: false });
          await pause(200);
          expect(socket.opened()).toBe(1);
          expect(states.map((s) => s.state)).toEqual(['closed']);
          expect(client.state).toBe('closed');
          await expect(client.chat('hi').end).rejects.toMatchObject({ code: 'connection_closed' });
        }
      },
      { emulator },
    );
  });

  it('stops waiting for GET /v1/models after 5 s when nothing answers, and goes on retrying', async () => {
    // Upgrades are dropped without a status (as a browser sees it); /v1/models never answers.
    const server = createServer(() => {});
    server.on('upgrade', (_request, socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const url = `ws://127.0.0.1:${port}/v1/ws`;
    try {
      let started = Date.now();
      await expect(tokenRefused(url, 'key', 200)).resolves.toBe(false);
      expect(Date.now() - started).toBeLessThan(2000);

      // The client does not hang in that check: after it, it goes on (here: gives up,
      // having no attempt left, instead of waiting forever).
      const socket = browserLike();
      started = Date.now();
      const gaveUp = await connect({
        url,
        ...socket,
        token: 'key',
        reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 0 },
      }).catch((e: unknown) => e);
      expect(gaveUp).toMatchObject({ code: 'connection_closed' });
      expect((gaveUp as AgentgateError).message).toContain('Gave up');
      expect(Date.now() - started).toBeGreaterThanOrEqual(TOKEN_CHECK_TIMEOUT_MS);
      expect(socket.opened()).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 20_000);
});

describe('close codes', () => {
  it('retries after 1013 (too many sockets for the user) and opens once there is room', async () => {
    await withGateway(
      { MAX_SOCKETS_PER_USER: '1' },
      async (gw) => {
        const first = await connect({ url: gw.wsUrl, WebSocket });
        const second = new Client({
          url: gw.wsUrl,
          WebSocket,
          reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
        });
        const states: StateChange[] = [];
        const errors: AgentgateError[] = [];
        second.on('state', (s) => states.push(s));
        second.on('error', (e) => errors.push(e));
        while (states.filter((s) => s.state === 'reconnecting').length < 2) await pause(10);
        expect(states[0]).toMatchObject({ state: 'reconnecting', close: { code: 1013 } });
        expect(errors[0]).toMatchObject({ code: 'rate_limited', retryable: true });
        await first.close();
        const opened = await second.opened;
        expect(opened.state).toBe('open');
        expect(states.at(-1)).toMatchObject({ state: 'open', attempt: 0 });
        await second.close();
      },
      { emulator },
    );
  });

  it('reconnects after 1001 (the gateway shut down) to the one that replaces it', async () => {
    const config = loadConfig(testEnv(emulator));
    const start = async (port: number) => {
      const app = await buildApp(config, createLogger(config));
      await app.listen({ port, host: '127.0.0.1' });
      return app;
    };
    const first = await start(0);
    const port = (first.server.address() as AddressInfo).port;
    const client = await connect({
      url: `ws://127.0.0.1:${port}/v1/ws`,
      WebSocket,
      reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
    });
    const states: StateChange[] = [];
    client.on('state', (s) => states.push(s));
    const before = client.ready.sessionId;
    await first.close();
    const second = await start(port);
    try {
      while (client.state !== 'open' || client.ready.sessionId === before) await pause(10);
      expect(states[0]).toMatchObject({ state: 'reconnecting', close: { code: 1001 } });
      // The first ready's conversation stays the default one.
      expect(client.conversationId).not.toBe(client.ready.conversationId);
    } finally {
      await client.close();
      await second.close();
    }
  });

  it('does not retry after 1008 (policy violation)', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    server.on('connection', (socket) => socket.close(1008, 'policy'));
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const socket = counting();
    try {
      const refused = await connect({
        url: `ws://127.0.0.1:${port}/v1/ws`,
        ...socket,
        reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
      }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'connection_closed', close: { code: 1008 } });
      await pause(100);
      expect(socket.opened()).toBe(1);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('gives up after maxAttempts, and at once with reconnect: false', async () => {
    const url = `ws://127.0.0.1:${await closedPort()}/v1/ws`;
    const socket = counting();
    const options: ConnectOptions = {
      url,
      ...socket,
      reconnect: { initialDelayMs: 5, maxDelayMs: 10, maxAttempts: 2 },
    };
    const gaveUp = await connect(options).catch((e: unknown) => e);
    expect(gaveUp).toMatchObject({ code: 'connection_closed', close: { code: 1006 } });
    expect((gaveUp as AgentgateError).message).toContain('2 attempts');
    expect(socket.opened()).toBe(3);

    const once = counting();
    const refused = await connect({ url, ...once, reconnect: false }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'connection_closed' });
    const cause = (refused as AgentgateError).close?.cause as NodeJS.ErrnoException;
    expect(cause.code).toBe('ECONNREFUSED');
    expect(once.opened()).toBe(1);
  });
});

describe('mistakes', () => {
  it('says to pass a WebSocket where there is none (Node 20)', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new Client({ url: 'ws://127.0.0.1:1/v1/ws' })).toThrow(
        /No WebSocket here: pass one/,
      );
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it('gives up on a URL that is not one, without retrying', async () => {
    for (const tokenVia of ['header', 'query'] as const) {
      const failed = await connect({ url: 'not a url', token: 't', tokenVia, WebSocket }).catch(
        (e: unknown) => e,
      );
      expect(failed).toMatchObject({ code: 'connection_closed' });
      expect((failed as Error).message).toContain('Cannot open not a url');
    }
  });

  it('stops at once when the gateway refuses the origin (403): forbidden', async () => {
    await withGateway(
      { AUTH_API_KEYS: 'key-alice:alice', ALLOWED_ORIGINS: 'https://app.example' },
      async (gw) => {
        let opened = 0;
        class FromElsewhere extends WebSocket {
          constructor(
            url: string,
            protocols?: string | string[],
            options?: WebSocket.ClientOptions,
          ) {
            super(url, protocols, {
              ...options,
              headers: { ...options?.headers, origin: 'https://evil.example' },
            });
            opened += 1;
          }
        }
        const refused = await connect({
          url: gw.wsUrl,
          token: 'key-alice',
          WebSocket: FromElsewhere,
          reconnect: { initialDelayMs: 10, maxDelayMs: 20 },
        }).catch((e: unknown) => e);
        expect(refused).toMatchObject({ code: 'forbidden', close: { status: 403 } });
        await pause(100);
        expect(opened).toBe(1);
      },
      { emulator },
    );
  });

  it('drops a chat whose signal was aborted before it was sent', async () => {
    await withGateway(
      {},
      async (gw) => {
        const client = new Client({ url: gw.wsUrl, WebSocket });
        const before = new AbortController();
        before.abort();
        await expect(client.chat('no', { signal: before.signal }).end).rejects.toMatchObject({
          code: 'aborted',
        });
        // Aborted while it waits for the connection: never sent.
        const waiting = new AbortController();
        const dropped = client.chat('not this either', { signal: waiting.signal });
        waiting.abort();
        await expect(dropped.end).rejects.toMatchObject({ code: 'aborted' });
        // A chat made before the first ready goes to the ready conversation.
        emulator.enqueue({ blocks: [{ text: 'Early bird.' }] });
        const early = client.chat('early');
        const end = await early.end;
        expect(end.text).toBe('Early bird.');
        expect(end.conversationId).toBe(client.conversationId);
        const users = (await client.history()).filter((m) => m.role === 'user');
        expect(users.map((m) => m.content)).toEqual(['early']);
        await client.close();
      },
      { emulator },
    );
  });
});

describe('close()', () => {
  it('ends watches, fails what still runs, and stops', async () => {
    const gw = await startGateway({}, emulator);
    try {
      const client = await connect({ url: gw.wsUrl, WebSocket });
      // Slow, not hanging: the gateway lets running turns finish when it closes.
      emulator.enqueue({ blocks: [{ text: 'slowly done' }], chunkChars: 1, delayMs: 50 });
      const turn = client.chat('hang on');
      await turn.turnId;
      const watch = client.subscribe(client.conversationId);
      await watch.subscribed;
      const reading = (async () => {
        const items = [];
        for await (const item of watch) items.push(item);
        return items;
      })();
      await client.close();
      await expect(turn.end).rejects.toMatchObject({ code: 'connection_closed' });
      await expect(reading).resolves.toEqual([]);
      expect(client.state).toBe('closed');
      await expect(client.history()).rejects.toMatchObject({ code: 'connection_closed' });
    } finally {
      await gw.close();
    }
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the maximum, with half of it random', () => {
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 500, 15_000, () => 0))).toEqual([
      250, 500, 1000, 2000, 7500,
    ]);
    expect([0, 1, 2, 3, 10].map((n) => backoffDelay(n, 500, 15_000, () => 1))).toEqual([
      500, 1000, 2000, 4000, 15_000,
    ]);
  });
});
