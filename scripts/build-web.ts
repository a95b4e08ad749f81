/**
 * `npm run build:web`: builds the web page into dist/web (src/gateway/web-page.ts serves it).
 * web/src/main.ts and everything it imports (marked, DOMPurify, highlight.js, the client
 * library) become one minified ES module, app.js; web/static/ (index.html, style.css) is
 * copied beside it. `npm start`, `npm run demo`, the tests (test/global-setup.ts) and the
 * Docker build run it, so the page served is never older than its source.
 *
 * It builds only when an input changed since the last build (dist/web-build.json records
 * every input's size and time), or always with `--force`. Each file is replaced in one
 * rename, so a gateway serving the page, or another build at the same moment, never sees a
 * missing or half-written file.
 */

import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WEB_PAGE_DIR, WEB_PAGE_FILES } from '../src/gateway/web-page-files.ts';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = path.join(ROOT, 'web', 'src', 'main.ts');
const STATIC_DIR = path.join(ROOT, 'web', 'static');

/** The browsers the page supports: each one's releases since early 2023. */
export const WEB_TARGETS = ['chrome111', 'edge111', 'firefox113', 'safari16.4'];

export interface BuiltWebPage {
  readonly dir: string;
  /** False when the page was up to date and nothing was written. */
  readonly built: boolean;
  /** Bytes of the bundled script, app.js (minified, not compressed). */
  readonly scriptBytes: number;
}

/** What a build read: every input file (relative to the repo) with its size and time. */
interface BuildInfo {
  inputs: Record<string, { size: number; mtimeMs: number }>;
  staticFiles: string[];
}

function infoPath(outDir: string): string {
  return `${outDir}-build.json`;
}

async function staticFiles(): Promise<string[]> {
  return (await readdir(STATIC_DIR, { withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => entry.name)
    .sort();
}

/** True when `outDir` holds a build of exactly the inputs there are now. */
async function upToDate(outDir: string): Promise<boolean> {
  try {
    const info = JSON.parse(await readFile(infoPath(outDir), 'utf8')) as BuildInfo;
    if (JSON.stringify(info.staticFiles) !== JSON.stringify(await staticFiles())) return false;
    for (const file of WEB_PAGE_FILES) await stat(path.join(outDir, file));
    for (const [file, recorded] of Object.entries(info.inputs)) {
      const now = await stat(path.join(ROOT, file));
      if (now.size !== recorded.size || now.mtimeMs !== recorded.mtimeMs) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/** Writes a file by renaming a finished temporary file over it. */
async function replaceFile(file: string, contents: string | Uint8Array): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, file);
}

/** Builds the page into `outDir` (default dist/web) unless it is up to date (or `force`). */
export async function buildWebPage(
  options: { outDir?: string; force?: boolean } = {},
): Promise<BuiltWebPage> {
  const outDir = options.outDir ?? WEB_PAGE_DIR;
  const script = path.join(outDir, 'app.js');
  if (!options.force && (await upToDate(outDir))) {
    return { dir: outDir, built: false, scriptBytes: (await stat(script)).size };
  }
  // esbuild is loaded only to build: checking that the page is up to date stays quick.
  const { build } = await import('esbuild');
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: script,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: WEB_TARGETS,
    minify: true,
    sourcemap: 'linked',
    // The bundled libraries' licences go to app.js.LEGAL.txt, out of the script.
    legalComments: 'linked',
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  await mkdir(outDir, { recursive: true });
  const names = await staticFiles();
  for (const name of names) {
    await replaceFile(path.join(outDir, name), await readFile(path.join(STATIC_DIR, name)));
  }
  for (const file of result.outputFiles) await replaceFile(file.path, file.contents);

  const inputs: BuildInfo['inputs'] = {};
  const read = [
    ...Object.keys(result.metafile.inputs),
    ...names.map((name) => path.relative(ROOT, path.join(STATIC_DIR, name))),
  ];
  for (const file of read) {
    const { size, mtimeMs } = await stat(path.join(ROOT, file));
    inputs[file] = { size, mtimeMs };
  }
  const info: BuildInfo = { inputs, staticFiles: names };
  await replaceFile(infoPath(outDir), `${JSON.stringify(info, null, 2)}\n`);
  return { dir: outDir, built: true, scriptBytes: (await stat(script)).size };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const page = await buildWebPage({ force: process.argv.includes('--force') });
    const where = path.relative(process.cwd(), page.dir);
    const size = `app.js ${(page.scriptBytes / 1024).toFixed(0)} KiB`;
    console.log(
      page.built
        ? `Built the web page in ${where} (${size}).`
        : `The web page in ${where} is up to date (${size}).`,
    );
  } catch (error) {
    console.error(`Cannot build the web page: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
