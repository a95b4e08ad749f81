import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface ProbeDeps {
  /** The process's metrics (createMetrics().registry). */
  readonly metrics: Registry;
  /** Throws, with a reason a person can act on, when the process cannot do its work. */
  readonly checkReady: () => Promise<void>;
  /**
   * What `/ready` shows beside its status: the state of parts that may fail without making
   * the process unready (an MCP server that did not start, say).
   */
  readonly details?: () => Record<string, unknown>;
}

/** Probes answer without a token; every other route needs one when auth is on. */
const PUBLIC = { config: { access: 'public' } } as const;

/**
 * `/health` (the process is up), `/ready` (it can do its work: 503 with the reason when
 * not) and `/metrics` (Prometheus text; it needs a token when auth is on). Served by
 * gateways and by worker processes alike, so that both answer probes and scrapes the same.
 */
export function registerProbeRoutes(app: FastifyInstance, deps: ProbeDeps): void {
  app.get('/health', PUBLIC, async () => ({ status: 'ok' }));

  app.get('/ready', PUBLIC, async (_request, reply) => {
    const details = deps.details?.();
    const shown = details && Object.keys(details).length > 0 ? { details } : {};
    try {
      await deps.checkReady();
      return { status: 'ready', ...shown };
    } catch (error) {
      return reply
        .code(503)
        .send({ status: 'unavailable', reason: (error as Error).message, ...shown });
    }
  });

  app.get('/metrics', async (_request, reply) => {
    reply.type(deps.metrics.contentType);
    return deps.metrics.metrics();
  });
}
