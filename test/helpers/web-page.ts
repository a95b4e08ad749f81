import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { expect } from 'vitest';
import { repoRoot } from './docs.ts';

/**
 * What the web page's browser tests share: opening the page, sending a message, waiting for
 * a turn's end, reading its text, and saving screenshots.
 */

/**
 * How long a browser test waits for the page to catch up with the gateway: generous, since
 * the tests share a machine with Chromium and the gateway (expect.poll's default is 1 s).
 */
export const WAIT = { timeout: 10_000 } as const;

/** Where browser tests save their screenshots (git ignores it). */
export const SCREENSHOT_DIR = path.join(repoRoot, 'test-results', 'screenshots');

/** Saves a screenshot of the page as `<SCREENSHOT_DIR>/<name>.png`. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

export interface PageOptions {
  /** Appended to the base URL: `#c_…`, `?token=…`. */
  hash?: string;
  viewport?: { width: number; height: number };
  context?: BrowserContextOptions;
  /** Runs before the page loads (routes, init scripts). */
  before?: (page: Page) => Promise<void>;
}

/**
 * Opens the page of `base` in a new browser context and waits until it is connected.
 * Uncaught errors in the page are pushed to `errors` (a test checks it stays empty).
 */
export async function openWebPage(
  newContext: (options?: BrowserContextOptions) => Promise<BrowserContext>,
  base: string,
  errors: Error[],
  options: PageOptions = {},
): Promise<Page> {
  const context = await newContext({
    viewport: options.viewport ?? { width: 1100, height: 800 },
    ...options.context,
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => errors.push(error));
  await options.before?.(page);
  await page.goto(`${base}/${options.hash ?? ''}`);
  await expect.poll(() => page.locator('#status').textContent(), WAIT).toMatch(/^Connected/);
  return page;
}

/** Types a message and sends it with Enter, once the box takes one. */
export async function send(page: Page, text: string): Promise<void> {
  await expect.poll(() => page.locator('#message').isEnabled(), WAIT).toBe(true);
  await page.locator('#message').fill(text);
  await page.locator('#message').press('Enter');
}

/** Waits for the newest assistant turn to show its footer (it ended) and returns it. */
export async function turnEnded(page: Page) {
  const turn = page.locator('#transcript .turn.assistant').last();
  await turn.locator('.turn-meta').waitFor({ timeout: 15_000 });
  return turn;
}

/** The text segments of the newest assistant turn. */
export function turnText(page: Page): Promise<string[]> {
  return page.locator('#transcript .turn.assistant').last().locator('.text').allTextContents();
}

/** The conversation id in the page's URL hash ('' when none). */
export function shownConversation(page: Page): string {
  return decodeURIComponent(new URL(page.url()).hash.slice(1));
}
