import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserRig } from '../helpers/browser.ts';

/**
 * The web page under the gateway's security headers, in Chromium: the page, its socket
 * and a chat turn work with no Content-Security-Policy violation, and the policy is in
 * force (what it forbids is refused).
 */

const rig = useBrowserRig();

/** A page that records every CSP violation: DOM events and console reports both. */
async function watchedPage(): Promise<{ page: Page; violations: () => Promise<string[]> }> {
  const context = await rig.newContext();
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) console.push(message.text());
  });
  // Runs before the page's own scripts, outside the page's CSP (it is injected by the
  // browser's debugging protocol).
  await page.addInitScript(`{
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push(e.effectiveDirective + ' ' + e.blockedURI);
    });
  }`);
  const violations = async () => [
    ...(await page.evaluate<string[]>('window.__violations')),
    ...console,
  ];
  return { page, violations };
}

describe('the web page under the security headers', () => {
  it('loads, connects its WebSocket and runs a chat turn with no CSP violation', async () => {
    const { page, violations } = await watchedPage();
    const response = await page.goto(`${rig.gw.url}/`);
    expect(await response?.headerValue('content-security-policy')).toContain("connect-src 'self'");
    // The socket is ws://<same host>/v1/ws: allowed by connect-src 'self' alone.
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Answered under a strict policy.' }] });
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
    await page.locator('#message').fill('hello');
    await page.locator('#message').press('Enter');
    const turn = page.locator('#transcript .turn.assistant').last();
    await turn.locator('.turn-meta').waitFor({ timeout: 15_000 });
    expect(await turn.locator('.text').allTextContents()).toEqual([
      'Answered under a strict policy.',
    ]);
    // Styles from style.css are applied (a blocked stylesheet leaves the default font).
    const font = await page.evaluate<string>('getComputedStyle(document.body).fontFamily');
    expect(font).toContain('system-ui');
    expect(await violations()).toEqual([]);
  });

  it('enforces the policy: an injected inline script does not run and is reported', async () => {
    const { page, violations } = await watchedPage();
    await page.goto(`${rig.gw.url}/`);
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    await page.evaluate(`{
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.head.append(script);
    }`);
    expect(await page.evaluate('window.__inlineRan === true')).toBe(false);
    await expect.poll(violations).toContainEqual(expect.stringMatching(/^script-src-elem /));
  });

  it('cannot be framed by another origin', async () => {
    const { page } = await watchedPage();
    // A page of another origin (another loopback port) that frames the gateway's page.
    const framer = createServer((_request, response) => {
      response.setHeader('content-type', 'text/html');
      response.end(`<iframe src="${rig.gw.url}/"></iframe>`);
    });
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = framer.address() as AddressInfo;
      await page.goto(`http://127.0.0.1:${port}/`);
      const frame = page.frames().find((f) => f !== page.mainFrame());
      await frame?.waitForLoadState();
      // A refused frame holds the browser's error page: the gateway's page never runs in it.
      expect(frame?.url()).not.toBe(`${rig.gw.url}/`);
      expect(await frame?.locator('#status').count()).toBe(0);
    } finally {
      framer.close();
    }
  });
});
