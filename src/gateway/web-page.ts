import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { markRoutesPublic } from './access.ts';

/**
 * Where the built web page lives: `npm run build:web` (run by `npm start`, `npm run demo`, the
 * tests and the Docker build) bundles web/ into it. It is build output, not source: git
 * ignores it, so a clone has no page until it is built.
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

/**
 * Serves the web page at `/`. It is public: it takes its token from its own URL and sends
 * it on the upgrade. A page that was not built is said so, once in the log and as a 503 at
 * `/`, rather than as a bare 404 that looks like a broken gateway.
 */
export async function registerWebPage(
  app: FastifyInstance,
  options: { dir?: string; log: Logger },
): Promise<void> {
  const dir = options.dir ?? WEB_PAGE_DIR;
  const missing = missingWebPageFiles(dir);
  await app.register(async (scope) => {
    markRoutesPublic(scope);
    if (missing.length === 0) {
      await scope.register(fastifyStatic, { root: dir, prefix: '/' });
      return;
    }
    options.log.error({ dir, missing }, WEB_PAGE_MISSING);
    scope.get('/', async (_request, reply) =>
      reply.code(503).type('text/plain; charset=utf-8').send(`${WEB_PAGE_MISSING}\n`),
    );
  });
}
