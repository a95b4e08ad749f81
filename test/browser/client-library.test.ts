import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Client from '../../src/client/index.ts';
import { launchChromium } from '../helpers/browser.ts';
import { repoRoot } from '../helpers/docs.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

// agentgate/client as a browser runs it: the built package (dist/client) loaded as ES
// modules by a page on another loopback port, with the browser's own WebSocket, against a
// real gateway with auth on (so the token goes as ?token=).

const run = promisify(execFile);
const dist = path.join(repoRoot, 'dist', 'client');
let browser: Browser | Error;
let gw: TestGateway;
let site: Server;
let siteUrl: string;

beforeAll(async () => {
  await run('npm', ['run', 'build:client'], { cwd: repoRoot });
  gw = await startGateway({ AUTH_API_KEYS: 'key-alice:alice' });
  site = createServer(async (request, response) => {
    const name = path.basename(request.url ?? '/');
    if (name.endsWith('.js')) {
      try {
        const code = await readFile(path.join(dist, name));
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
      } catch {
        response.writeHead(404).end();
      }
      return;
    }
    response
      .writeHead(200, { 'content-type': 'text/html' })
      .end(
        '<!doctype html><title>client</title><script type="module">import * as agentgate from "/client/index.js"; window.agentgate = agentgate;</script>',
      );
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await launchChromium().catch((error: unknown) => error as Error);
}, 120_000);

afterAll(async () => {
  if (!(browser instanceof Error)) await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await gw?.close();
});

async function newPage(): Promise<Page> {
  if (browser instanceof Error) throw browser;
  const page = await browser.newPage();
  await page.goto(`${siteUrl}/`);
  await page.waitForFunction(() => 'agentgate' in globalThis);
  return page;
}

describe('agentgate/client in Chromium', () => {
  it('connects with ?token=, chats, and gives the turn whole', async () => {
    const page = await newPage();
    gw.emulator.enqueue({ blocks: [{ text: 'Hello from the browser.' }], chunkChars: 5 });
    const result = await page.evaluate(
      async ({ url }) => {
        const { connect } = (globalThis as unknown as { agentgate: typeof Client }).agentgate;
        const client = await connect({ url, token: 'key-alice' });
        const turn = client.chat('hi from a page');
        const seqs: number[] = [];
        const types: string[] = [];
        for await (const frame of turn) {
          seqs.push(frame.seq);
          types.push(frame.type);
        }
        const end = await turn.end;
        const history = await client.history();
        const user = client.ready.userId;
        await client.close();
        return { seqs, types, text: end.text, joined: turn.text, user, history: history.length };
      },
      { url: gw.wsUrl },
    );
    expect(result.user).toBe('alice');
    expect(result.types[0]).toBe('turn-start');
    expect(result.types.at(-1)).toBe('turn-end');
    expect(result.seqs).toEqual(result.seqs.map((_, i) => 1 + i));
    expect(result.text).toBe('Hello from the browser.');
    expect(result.joined).toBe(result.text);
    expect(result.history).toBe(2);
  });

  it('reconnects after the gateway closes the socket, and the watch goes on', async () => {
    const page = await newPage();
    await page.evaluate(
      async ({ url }) => {
        const { connect } = (globalThis as unknown as { agentgate: typeof Client }).agentgate;
        const client = await connect({
          url,
          token: 'key-alice',
          reconnect: { initialDelayMs: 20, maxDelayMs: 50 },
        });
        const states: string[] = [];
        client.on('state', (s: { state: string }) => states.push(s.state));
        const watch = client.subscribe(client.conversationId);
        await watch.subscribed;
        Object.assign(globalThis, { client, watch, states });
      },
      { url: gw.wsUrl },
    );
    // The gateway drops every socket it has (as a restart would): 1001.
    for (const socket of gw.app.websocketServer.clients) socket.close(1001, 'going away');
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as { states: string[] }).states))
      .toEqual(['reconnecting', 'open']);
    gw.emulator.enqueue({ blocks: [{ text: 'After the reconnect.' }] });
    const text = await page.evaluate(async () => {
      const { client, watch } = globalThis as unknown as {
        client: { chat(c: string): { end: Promise<{ text: string }> } };
        watch: AsyncIterable<{ type: string; text?: string }>;
      };
      const end = await client.chat('still there?').end;
      let watched = '';
      for await (const item of watch) {
        if (item.type === 'token') watched += item.text;
        if (item.type === 'turn-end') break;
      }
      return { end: end.text, watched };
    });
    expect(text).toEqual({ end: 'After the reconnect.', watched: 'After the reconnect.' });
  });
});
