import { existsSync } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
} from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { startGateway, type TestGateway } from './gateway.ts';

/** Debian's Chromium, or CHROMIUM_PATH. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Starts headless Chromium. Rejects, saying how to install it, when it is missing or does
 * not start: browser tests then fail with that reason (a missing Chromium is no skip).
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`,
    );
  }
  try {
    return await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  } catch (error) {
    throw new Error(`Chromium at ${CHROMIUM} did not start.`, { cause: error });
  }
}

/**
 * A gateway and Chromium for one browser test file. When Chromium is missing or does not
 * start, `newContext` rejects with why, so every test fails with that reason.
 */
export class BrowserRig {
  readonly gw: TestGateway;
  readonly #browser: Browser | Error;
  #contexts: BrowserContext[] = [];
  #closed: Promise<void> | undefined;

  private constructor(gw: TestGateway, browser: Browser | Error) {
    this.gw = gw;
    this.#browser = browser;
  }

  /** Starts a gateway with `env` (see startGateway) and Chromium. */
  static async start(env: Record<string, string> = {}): Promise<BrowserRig> {
    const gw = await startGateway(env);
    const browser = await launchChromium().catch((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)),
    );
    return new BrowserRig(gw, browser);
  }

  /** A fresh browser context, closed by `closeContexts`. */
  async newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    if (this.#browser instanceof Error) throw this.#browser;
    const context = await this.#browser.newContext(options);
    this.#contexts.push(context);
    return context;
  }

  /** Closes every context opened so far and resets the emulator (between tests). */
  async closeContexts(): Promise<void> {
    await Promise.all(this.#contexts.splice(0).map((c) => c.close()));
    this.gw.emulator.reset();
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.closeContexts();
      if (!(this.#browser instanceof Error)) await this.#browser.close();
      await this.gw.close();
    })();
    return this.#closed;
  }
}

/**
 * A BrowserRig for the calling test file: started before its tests, its contexts closed
 * after each, closed after all. Read `gw` and call `newContext` inside tests only. Pages
 * push their uncaught errors to `pageErrors`; each test fails if any were pushed.
 */
export function useBrowserRig(env: Record<string, string> = {}): {
  readonly gw: TestGateway;
  readonly pageErrors: Error[];
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>;
} {
  const pageErrors: Error[] = [];
  let rig: BrowserRig | undefined;
  const started = () => {
    if (!rig) throw new Error('the browser rig starts in beforeAll');
    return rig;
  };
  beforeAll(async () => {
    rig = await BrowserRig.start(env);
  }, 30_000);
  afterEach(async () => {
    await rig?.closeContexts();
    expect(pageErrors.splice(0), 'uncaught errors in the page').toEqual([]);
  });
  afterAll(() => rig?.close());
  return {
    get gw() {
      return started().gw;
    },
    pageErrors,
    newContext: (options) => started().newContext(options),
  };
}
