/**
 * `npm run build:web`: builds the web page into dist/web (src/gateway/web-page.ts serves it).
 * web/src/main.ts and everything it imports (marked, DOMPurify, highlight.js, the client
 * library) become one minified ES module, app.js; web/static/ (index.html, style.css) is
 * copied beside it. `npm start`, `npm run demo`, the tests (test/global-setup.ts) and the
 * Docker build run it, so the page served is never older than its source. It takes well
 * under a second.
 */

import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WEB_PAGE_DIR } from '../src/gateway/web-page.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = path.join(ROOT, 'web', 'src', 'main.ts');
const STATIC_DIR = path.join(ROOT, 'web', 'static');

export interface BuiltWebPage {
  readonly dir: string;
  /** Bytes of the bundled script, app.js (minified, not compressed). */
  readonly scriptBytes: number;
}

/**
 * Builds the page into `outDir` (default dist/web). It is built next to it and then moved
 * in place, so a gateway serving the old page never serves half of the new one.
 */
export async function buildWebPage(outDir: string = WEB_PAGE_DIR): Promise<BuiltWebPage> {
  const staging = `${outDir}.build-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await cp(STATIC_DIR, staging, { recursive: true });
    await build({
      entryPoints: [ENTRY],
      outfile: path.join(staging, 'app.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome111', 'firefox113', 'safari16.4'],
      minify: true,
      sourcemap: 'linked',
      // Licences of the bundled libraries go to app.js.LEGAL.txt, out of the script.
      legalComments: 'linked',
      logLevel: 'silent',
    });
    const old = `${outDir}.old-${process.pid}`;
    await rm(old, { recursive: true, force: true });
    await rename(outDir, old).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, outDir);
    await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const { size } = await stat(path.join(outDir, 'app.js'));
  return { dir: outDir, scriptBytes: size };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const built = await buildWebPage();
    const kib = (built.scriptBytes / 1024).toFixed(0);
    console.log(`Built the web page in ${path.relative(process.cwd(), built.dir)} (app.js ${kib} KiB).`);
  } catch (error) {
    console.error(`Cannot build the web page: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
