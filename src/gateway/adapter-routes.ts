import fastifyCors from '@fastify/cors';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../metrics.ts';
import { originAllowed } from './access.ts';
import { AG_UI_ROUTE, registerAgUiRoutes } from './ag-ui.ts';
import { AI_SDK_CHAT_ROUTE, registerAiSdkRoutes, UI_MESSAGE_STREAM_HEADERS } from './ai-sdk.ts';
import { CANCEL_ROUTE, registerCancelRoute } from './cancel-route.ts';
import { SseAdapters } from './sse-adapters.ts';
import type { TurnStreams } from './turn-streams.ts';

export interface HttpAdaptersDeps {
  readonly streams: TurnStreams;
  readonly config: Pick<Config, 'auth' | 'allowedOrigins' | 'limits'>;
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * The HTTP adapters (AI SDK UI message stream, AG-UI, and the cancel route that stops what
 * they stream) in a scope of their own, with what only they need: CORS for the origins a WebSocket upgrade accepts (the access hook checks
 * `Origin` on these routes; preflights are answered before auth, as browsers send them
 * without credentials), and a per-user rate limit like the frame rate of a socket:
 * RATE_LIMIT_FRAMES_PER_SEC requests a second on average, bursts of twice that (a window
 * of two seconds), per gateway process. Open streams end when the gateway shuts down.
 */
export async function registerHttpAdapters(
  app: FastifyInstance,
  deps: HttpAdaptersDeps,
): Promise<void> {
  const { config } = deps;
  await app.register(async (scope) => {
    await scope.register(fastifyCors, {
      origin: (origin, callback) =>
        callback(null, origin !== undefined && originAllowed(origin, config)),
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type'],
      exposedHeaders: Object.keys(UI_MESSAGE_STREAM_HEADERS),
      maxAge: PREFLIGHT_MAX_AGE_S,
    });
    await scope.register(fastifyRateLimit, { global: false });
    const limited = scope.createRateLimit({
      max: config.limits.framesPerSecond * 2,
      timeWindow: 2000,
      keyGenerator: (request) => request.userId,
    });
    const adapters = new SseAdapters({
      streams: deps.streams,
      limits: config.limits,
      metrics: deps.metrics,
      log: deps.log.child({ component: 'http-adapters' }),
      allow: async (request) => {
        const verdict = await limited(request);
        return verdict.isAllowed || !verdict.isExceeded;
      },
    });
    scope.setErrorHandler(adapters.errorHandler);
    app.addHook('preClose', async () => adapters.shutdown());

    // Preflights: public (browsers send them without credentials), origin-checked.
    const preflight = { config: { access: 'public' as const, crossOrigin: true } };
    const paths = [AI_SDK_CHAT_ROUTE, `${AI_SDK_CHAT_ROUTE}/:id/stream`, AG_UI_ROUTE, CANCEL_ROUTE];
    for (const path of paths) {
      scope.options(path, preflight, (_request, reply) => reply.code(204).send());
    }
    registerAiSdkRoutes(scope, adapters, deps.streams);
    registerAgUiRoutes(scope, adapters, deps.streams);
    registerCancelRoute(scope, adapters, deps.streams);
  });
}
