import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrowserRig } from '../helpers/browser.ts';

/**
 * A browser app on another origin calls the HTTP adapters with its token in a header, as
 * a `useChat` app does: Chromium sends the CORS preflight, the gateway answers it for an
 * origin in ALLOWED_ORIGINS (under its security headers), and the page reads the stream.
 * A page of any other origin is refused before its request is sent.
 */

/** A page server on a port of its own: another origin than the gateway's. */
async function pageServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>app</title><p>an app on another origin</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

let rig: BrowserRig;
let good: { server: Server; origin: string };
let evil: { server: Server; origin: string };

beforeAll(async () => {
  [good, evil] = await Promise.all([pageServer(), pageServer()]);
  rig = await BrowserRig.start({
    AUTH_API_KEYS: 'key-alice:alice',
    ALLOWED_ORIGINS: good.origin,
  });
}, 30_000);
afterAll(async () => {
  await rig?.close();
  for (const page of [good, evil]) page?.server.close();
});

/** Posts a chat from a page of `origin`, with the token in a header; what the page saw. */
async function chatFrom(origin: string) {
  const context = await rig.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return page.evaluate(async (api) => {
    try {
      const response = await fetch(api, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer key-alice' },
        body: JSON.stringify({
          id: `browser-${Math.random().toString(36).slice(2)}`,
          messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'hello' }] }],
        }),
      });
      return {
        status: response.status,
        marker: response.headers.get('x-vercel-ai-ui-message-stream'),
        body: await response.text(),
      };
    } catch (error) {
      return { error: String(error) };
    }
  }, `${rig.gw.url}/v1/ai-sdk/chat`);
}

describe('the AI SDK adapter from a page on another origin', () => {
  it('works for an origin in ALLOWED_ORIGINS: preflight, stream and its exposed header', async () => {
    const seen = await chatFrom(good.origin);
    expect(seen).toMatchObject({ status: 200, marker: 'v1' });
    expect(seen.body).toContain('"type":"text-delta"');
    expect(seen.body).toContain('"type":"finish"');
    expect(seen.body?.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('is refused for any other origin: the browser never sends the request', async () => {
    const before = rig.gw.emulator.requests.length;
    const seen = await chatFrom(evil.origin);
    expect(seen).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
    // Nothing was started for the refused page: no model call.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rig.gw.emulator.requests.length).toBe(before);
  });
});
