import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { markRoutesPublic } from './access.ts';
import { missingWebPageFiles, WEB_PAGE_DIR, WEB_PAGE_MISSING } from './web-page-files.ts';

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
