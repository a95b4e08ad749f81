import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.ts';
import { registerAccess } from './gateway/access.ts';
import { type ProbeDeps, registerProbeRoutes } from './gateway/probe-routes.ts';

/**
 * The HTTP side of a worker process (WORKER_METRICS_PORT): `/health`, `/ready` and
 * `/metrics`, the gateway's own routes under the gateway's access rule (with auth on,
 * `/metrics` needs a token), and nothing else: no WebSocket, no page, no other plugin.
 */
export function buildWorkerApp(config: Config, log: Logger, deps: ProbeDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: log.child({ component: 'metrics' }) as FastifyBaseLogger,
  });
  registerAccess(app, { auth: config.auth, allowedOrigins: config.allowedOrigins });
  registerProbeRoutes(app, deps);
  return app;
}
