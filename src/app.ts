import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyHelmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { endLostTurn } from './agent/end-lost-turn.ts';
import { createAgentGraph } from './agent/graph.ts';
import { BUILTIN_TOOLS } from './agent/tools/index.ts';
import { TurnWorker } from './agent/turn-worker.ts';
import { type Backends, createBackends } from './backends.ts';
import type { Config } from './config/config.ts';
import { markRoutesPublic, registerAccess } from './gateway/access.ts';
import { Conversations } from './gateway/conversations.ts';
import { SubscriptionHub } from './gateway/hub.ts';
import { registerRestRoutes } from './gateway/rest-routes.ts';
import { SECURITY_HEADERS } from './gateway/security-headers.ts';
import { UserTurnLimiter } from './gateway/turn-limiter.ts';
import { registerWebSocketRoute } from './gateway/ws-route.ts';
import { createMetrics } from './metrics.ts';
import { CLOSE_CODES } from './protocol/errors.ts';
import { BedrockClients } from './providers/bedrock/clients.ts';
import { createCredentials } from './providers/bedrock/credentials.ts';
import { BedrockModels } from './providers/bedrock/models.ts';
import { replaceSdkNodeWarning } from './providers/bedrock/node-support.ts';
import { createTelemetry } from './telemetry.ts';

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');

/** Builds the model layer shared by gateway and worker. */
export function createModels(config: Config, log: Logger) {
  const nodeNotice = replaceSdkNodeWarning();
  if (nodeNotice) log.info(nodeNotice);
  const clients = new BedrockClients({
    credentials: createCredentials(config.bedrock),
    maxAttempts: config.bedrock.maxAttempts,
    endpoint: config.bedrock.endpoint,
    profile: config.bedrock.profile,
  });
  const models = new BedrockModels({
    models: config.bedrock.models,
    nonStreamingModels: config.bedrock.nonStreamingModels,
    clients,
    log,
  });
  return { clients, models };
}

/**
 * Ends the turns of jobs whose worker died (docs/protocol.md, invariant 8). Every process wires
 * it, gateways without a worker too: a turn ends even when its only worker is gone.
 */
export function watchLostTurns(
  backends: Pick<Backends, 'bus' | 'store' | 'queue'>,
  models: BedrockModels,
  log: Logger,
): void {
  const deps = { ...backends, models, log: log.child({ component: 'lost-turns' }) };
  backends.queue.watchLost((job, why) => endLostTurn(deps, job, why));
}

/** Builds the worker that runs turns taken from the queue. */
export function createWorker(
  config: Config,
  log: Logger,
  deps: Omit<
    ConstructorParameters<typeof TurnWorker>[0],
    'graph' | 'maxSteps' | 'log' | 'logStreamEvents'
  >,
) {
  const graph = createAgentGraph({
    models: deps.models,
    tools: BUILTIN_TOOLS,
    systemPrompt: config.agent.systemPrompt,
    maxSteps: config.agent.maxSteps,
    maxContextTokens: config.agent.maxContextTokens,
    ...(deps.tracer ? { tracer: deps.tracer } : {}),
  });
  return new TurnWorker({
    ...deps,
    graph,
    maxSteps: config.agent.maxSteps,
    log: log.child({ component: 'worker' }),
    logStreamEvents: config.log.streamEvents,
  });
}

/**
 * The composition root: state backends, models, the embedded worker (RUN_WORKER), the
 * WebSocket gateway, REST routes and the web page. Closing the app closes all of it.
 */
export async function buildApp(config: Config, log: Logger): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    trustProxy: true,
  });
  const backends = await createBackends(config, log);
  const { clients, models } = createModels(config, log);
  const metrics = createMetrics();
  const telemetry = createTelemetry(config.otelEndpoint);
  watchLostTurns(backends, models, log);
  const worker = config.runWorker
    ? createWorker(config, log, { ...backends, models, metrics, tracer: telemetry.tracer })
    : undefined;
  await worker?.start();

  const hub = new SubscriptionHub(backends.bus);
  const conversations = new Conversations({
    ...backends,
    lifetimeMs: config.sessionTtlSeconds * 1000,
  });

  // Registered before the access hook: its own onRequest hook must run first (it marks
  // upgrade requests), and it destroys a refused upgrade's socket once the answer is sent.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: config.limits.maxFrameBytes * 4 },
    // First step of shutdown: tell every client (1001); turns go on and drain in onClose
    // (the queue's close waits for them, then aborts what is left).
    preClose(done) {
      for (const socket of this.websocketServer.clients) {
        socket.close(CLOSE_CODES.goingAway, 'server shutting down');
      }
      done();
    },
  });
  await app.register(fastifyHelmet, SECURITY_HEADERS);
  registerAccess(app, { auth: config.auth, allowedOrigins: config.allowedOrigins });

  registerWebSocketRoute(app, {
    ...backends,
    hub,
    models,
    conversations,
    turns: new UserTurnLimiter(hub, config.limits.maxTurnsPerUser),
    limits: config.limits,
    metrics,
    log,
  });
  registerRestRoutes(app, {
    models,
    conversations,
    metrics: metrics.registry,
    checkReady: async () => {
      await backends.ping();
      if (!(await backends.queue.workersAlive())) {
        throw new Error('No worker is alive to run turns (start one with `npm run worker`).');
      }
    },
  });
  // The web page is public: it takes its token from its own URL and sends it on the upgrade.
  await app.register(async (scope) => {
    markRoutesPublic(scope);
    await scope.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/' });
  });

  app.addHook('onClose', async () => {
    await backends.close();
    clients.destroy();
    await telemetry.shutdown();
  });
  return app;
}
