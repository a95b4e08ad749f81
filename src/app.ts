import fastifyHelmet from '@fastify/helmet';
import fastifyWebsocket from '@fastify/websocket';
import type { Tracer } from '@opentelemetry/api';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ChatModels } from './agent/chat-models.ts';
import { TurnWorker } from './agent/turn-worker.ts';
import { AgentCatalog } from './agents/catalog.ts';
import { createRunnableAgents } from './agents/runtime.ts';
import { loadToolSources, type ToolSources } from './agents/tool-sources.ts';
import type { Approvals } from './approvals/approvals.ts';
import { type Backends, createBackends } from './backends.ts';
import type { Config } from './config/config.ts';
import { registerAccess } from './gateway/access.ts';
import { registerHttpAdapters } from './gateway/adapter-routes.ts';
import { ChatAdmission } from './gateway/chat-admission.ts';
import { Conversations } from './gateway/conversations.ts';
import { SubscriptionHub } from './gateway/hub.ts';
import { registerRestRoutes } from './gateway/rest-routes.ts';
import { SECURITY_HEADERS } from './gateway/security-headers.ts';
import { UserTurnLimiter } from './gateway/turn-limiter.ts';
import { TurnStreams } from './gateway/turn-streams.ts';
import { registerWebPage } from './gateway/web-page.ts';
import { registerWebSocketRoute } from './gateway/ws-route.ts';
import { type ApprovalMetrics, createMetrics, type Metrics } from './metrics.ts';
import { CLOSE_CODES } from './protocol/errors.ts';
import { CallGate, type CallGateMetrics } from './providers/bedrock/call-gate.ts';
import { BedrockClients } from './providers/bedrock/clients.ts';
import { createCredentials } from './providers/bedrock/credentials.ts';
import { BedrockModels } from './providers/bedrock/models.ts';
import { replaceSdkNodeWarning } from './providers/bedrock/node-support.ts';
import { ModelPrices } from './providers/bedrock/prices.ts';
import type { JobQueue } from './queue/job-queue.ts';
import type { CallQuota } from './quota/call-quota.ts';
import { createTelemetry } from './telemetry.ts';
import { Turns } from './turns/turns.ts';

/**
 * Builds the model layer shared by gateway and worker. A bad MODEL_PRICES_FILE throws a
 * ConfigError. `quota` is the backends' BEDROCK_MAX_CONCURRENCY, if set.
 */
export function createModels(
  config: Config,
  log: Logger,
  deps: { quota?: CallQuota | undefined; metrics?: CallGateMetrics } = {},
) {
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
    promptCache: config.bedrock.promptCache,
    guardrail: config.bedrock.guardrail,
    reasoningBudgetTokens: config.bedrock.reasoningBudgetTokens,
    prices: ModelPrices.fromFile(config.bedrock.pricesFile),
    gate: deps.quota && new CallGate(deps.quota, log, deps.metrics),
  });
  return { clients, models };
}

/** The owner of every turn's life in this process (see Turns). */
export function createTurns(
  backends: Pick<Backends, 'bus' | 'store' | 'queue'>,
  models: ChatModels,
  log: Logger,
  metrics?: Metrics,
): Turns {
  return new Turns({
    ...backends,
    models,
    log: log.child({ component: 'turns' }),
    ...(metrics ? { metrics } : {}),
  });
}

/**
 * Ends the turns of jobs that will not run: their worker died, or no worker is alive
 * (docs/protocol.md, invariant 8). Every process wires it, gateways without a worker too.
 */
export function watchLostTurns(queue: JobQueue, turns: Turns): void {
  queue.watchLost((job, why) => turns.endLost(job, why));
}

/** A worker and the tool sources it holds open (MCP servers, databases). */
export interface Worker {
  readonly worker: TurnWorker;
  readonly sources: ToolSources;
}

/**
 * Builds the worker that runs turns taken from the queue: every tool source, then every
 * agent of the catalog. A bad tool module, skill, MCP file or agent throws a ConfigError.
 */
export async function createWorker(
  config: Config,
  log: Logger,
  deps: {
    queue: JobQueue;
    approvals: Approvals;
    turns: Turns;
    models: ChatModels;
    agents: AgentCatalog;
    metrics?: ApprovalMetrics;
    tracer?: Tracer;
  },
): Promise<Worker> {
  const sources = await loadToolSources(config, log);
  try {
    const agents = await createRunnableAgents(deps.agents, {
      config,
      models: deps.models,
      sources,
      approvals: deps.approvals,
      log,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(deps.tracer ? { tracer: deps.tracer } : {}),
    });
    const worker = new TurnWorker({
      queue: deps.queue,
      turns: deps.turns,
      agents,
      log: log.child({ component: 'worker' }),
      logStreamEvents: config.log.streamEvents,
      ...(deps.tracer ? { tracer: deps.tracer } : {}),
    });
    return { worker, sources };
  } catch (error) {
    await sources.close();
    throw error;
  }
}

/**
 * `/ready`'s details of a process that runs turns: the state of its MCP servers, when it has
 * any. Why one failed stays in the log: `/ready` answers anyone, and an error may quote a
 * server's stderr.
 */
export function workerDetails(worker: Worker | undefined): Record<string, unknown> {
  const mcp = worker?.sources.mcp;
  if (!mcp) return {};
  const servers = Object.entries(mcp.status()).map(([name, { state, tools }]) => [
    name,
    { state, tools },
  ]);
  return { mcpServers: Object.fromEntries(servers) };
}

/**
 * The composition root: state backends, models, the embedded worker (RUN_WORKER), the
 * WebSocket gateway, the HTTP adapters (AI SDK, AG-UI), REST routes and the web page.
 * Closing the app closes all of it.
 */
export async function buildApp(config: Config, log: Logger): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    trustProxy: true,
  });
  const backends = await createBackends(config, log);
  const metrics = createMetrics();
  let models: BedrockModels;
  let clients: BedrockClients;
  try {
    ({ clients, models } = createModels(config, log, { quota: backends.quota, metrics }));
  } catch (error) {
    await backends.close();
    throw error;
  }
  const telemetry = createTelemetry(config.otelEndpoint);
  const turns = createTurns(backends, models, log, metrics);
  watchLostTurns(backends.queue, turns);
  let agents: AgentCatalog;
  let worker: Worker | undefined;
  try {
    agents = await AgentCatalog.load(config.agent.agentsFile, models);
    worker = config.runWorker
      ? await createWorker(config, log, {
          queue: backends.queue,
          approvals: backends.approvals,
          metrics,
          turns,
          models,
          agents,
          tracer: telemetry.tracer,
        })
      : undefined;
    await worker?.worker.start();
  } catch (error) {
    await worker?.sources.close();
    await backends.close();
    clients.destroy();
    await telemetry.shutdown();
    throw error;
  }

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

  const admission = new ChatAdmission({
    ...backends,
    models,
    agents,
    conversations,
    limiter: new UserTurnLimiter(hub, config.limits.maxTurnsPerUser),
    turns,
  });
  registerWebSocketRoute(app, {
    bus: backends.bus,
    hub,
    models,
    agents,
    approvals: backends.approvals,
    conversations,
    admission,
    limits: config.limits,
    metrics,
    log,
  });
  await registerHttpAdapters(app, {
    streams: new TurnStreams({
      bus: backends.bus,
      hub,
      conversations,
      admission,
      approvals: backends.approvals,
    }),
    config,
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
    details: () => workerDetails(worker),
  });
  await registerWebPage(app, { log });

  app.addHook('onClose', async () => {
    try {
      await backends.close();
    } finally {
      // MCP server processes and database pools go whatever became of Redis.
      await worker?.sources.close();
      clients.destroy();
      await telemetry.shutdown();
    }
  });
  return app;
}
