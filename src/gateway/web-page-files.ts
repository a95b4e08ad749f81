import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the built web page lives, and what it holds. `npm run build:web` (run by
 * `npm start`, `npm run demo`, the tests and the Docker build) bundles web/ into it, and
 * web-page.ts serves it. It is build output, not source: git ignores it, so a clone has no
 * page until it is built. This module imports nothing heavy: the build script reads it too.
 */
export const WEB_PAGE_DIR = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dist',
  'web',
);

/** The files a built page has; any one missing means the page was not (fully) built. */
export const WEB_PAGE_FILES = ['index.html', 'app.js', 'style.css'] as const;

/** What a person reads when the page is not built: in the log at start, and at `GET /`. */
export const WEB_PAGE_MISSING =
  'The web page is not built (dist/web is missing or incomplete): run `npm run build:web`, then reload. `npm start` and `npm run demo` build it by themselves.';

/** The page's files that are missing from `dir` (none: the page is built). */
export function missingWebPageFiles(dir: string = WEB_PAGE_DIR): string[] {
  return WEB_PAGE_FILES.filter((file) => !existsSync(path.join(dir, file)));
}
