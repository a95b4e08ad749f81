import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWebPage } from '../../scripts/build-web.ts';
import { WEB_PAGE_FILES } from '../../src/gateway/web-page-files.ts';

/** `npm run build:web` (scripts/build-web.ts), into a folder of its own. */

const root = mkdtempSync(path.join(os.tmpdir(), 'agentgate-web-'));
const outDir = path.join(root, 'web');
const info = `${outDir}-build.json`;

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('building the web page', () => {
  it('bundles the page into one small script beside its static files', async () => {
    const built = await buildWebPage({ outDir });
    expect(built.built).toBe(true);
    for (const file of WEB_PAGE_FILES) expect(existsSync(path.join(outDir, file)), file).toBe(true);
    const script = readFileSync(path.join(outDir, 'app.js'), 'utf8');
    expect(built.scriptBytes).toBe(Buffer.byteLength(script));
    // marked, DOMPurify, highlight.js and the client library, minified: keep it small.
    expect(built.scriptBytes).toBeLessThan(200 * 1024);
    expect(script).toContain('//# sourceMappingURL=app.js.map');
    // Nothing the CSP (script-src 'self', no 'unsafe-eval') would refuse.
    expect(script).not.toMatch(/\beval\(|new Function\(/);
    const html = readFileSync(path.join(outDir, 'index.html'), 'utf8');
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).not.toMatch(/<script>|<style|style="|\son[a-z]+="/i);
    expect(readFileSync(path.join(outDir, 'app.js.LEGAL.txt'), 'utf8')).toMatch(/DOMPurify/i);
  });

  it('builds again only when an input changed, or when forced', async () => {
    const script = path.join(outDir, 'app.js');
    const before = statSync(script).mtimeMs;
    expect((await buildWebPage({ outDir })).built).toBe(false);
    expect(statSync(script).mtimeMs).toBe(before);

    // An input that is not as the last build read it (an edit) makes the next build run.
    const recorded = JSON.parse(readFileSync(info, 'utf8')) as {
      inputs: Record<string, { size: number; mtimeMs: number }>;
    };
    expect(Object.keys(recorded.inputs)).toEqual(
      expect.arrayContaining([
        'web/src/main.ts',
        'web/static/index.html',
        'src/client/client.ts',
        expect.stringMatching(/^node_modules\/dompurify\//),
      ]),
    );
    recorded.inputs['web/src/main.ts']!.mtimeMs -= 1000;
    writeFileSync(info, JSON.stringify(recorded));
    expect((await buildWebPage({ outDir })).built).toBe(true);
    expect((await buildWebPage({ outDir })).built).toBe(false);

    // A page file gone, or no record of the last build: built again.
    rmSync(path.join(outDir, 'style.css'));
    expect((await buildWebPage({ outDir })).built).toBe(true);
    rmSync(info);
    expect((await buildWebPage({ outDir })).built).toBe(true);
    expect((await buildWebPage({ outDir, force: true })).built).toBe(true);
  });
});
