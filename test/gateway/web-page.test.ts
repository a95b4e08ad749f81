import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { registerWebPage } from '../../src/gateway/web-page.ts';
import { WEB_PAGE_DIR, WEB_PAGE_MISSING } from '../../src/gateway/web-page-files.ts';
import { captureLogs } from '../helpers/env.ts';

/** How the gateway serves the built web page (src/gateway/web-page.ts), and says it is not built. */

const empty = mkdtempSync(path.join(os.tmpdir(), 'agentgate-no-page-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function serve(dir: string) {
  const logs = captureLogs();
  const log = pino(logs.sink);
  const app = Fastify({ loggerInstance: log as FastifyBaseLogger });
  await registerWebPage(app, { dir, log });
  await app.ready();
  // Warnings and errors only: Fastify logs every request at info.
  const problems = () =>
    logs.lines
      .map((line) => JSON.parse(line) as { level: number; msg: string; missing?: string[] })
      .filter((line) => line.level >= 40);
  return { app, problems };
}

describe('the web page', () => {
  it('is served from dist/web once built (the tests build it first)', async () => {
    const { app, problems } = await serve(WEB_PAGE_DIR);
    const page = await app.inject('/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('src="app.js"');
    const script = await app.inject('/app.js');
    expect(script.statusCode).toBe(200);
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(problems()).toEqual([]);
    await app.close();
  });

  it('answers 503 saying how to build it, and logs that, when it was not built', async () => {
    const { app, problems } = await serve(empty);
    const page = await app.inject('/');
    expect(page.statusCode).toBe(503);
    expect(page.headers['content-type']).toMatch(/^text\/plain/);
    expect(page.body).toBe(`${WEB_PAGE_MISSING}\n`);
    expect(page.body).toContain('npm run build:web');
    expect((await app.inject('/app.js')).statusCode).toBe(404);
    expect(problems()).toEqual([
      expect.objectContaining({
        level: 50,
        msg: WEB_PAGE_MISSING,
        missing: ['index.html', 'app.js', 'style.css'],
      }),
    ]);
    await app.close();
  });
});
