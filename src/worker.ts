import closeWithGrace from 'close-with-grace';
import { AgentCatalog } from './agents/catalog.ts';
import { createModels, createTurns, createWorker, watchLostTurns, workerDetails } from './app.ts';
import { createBackends } from './backends.ts';
import { configFromProcess, orExitOnConfigError } from './config/from-process.ts';
import { listenOrExit } from './listen-problem.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { createTelemetry } from './telemetry.ts';
import { buildWorkerApp } from './worker-app.ts';

// The worker process (`npm run worker`): takes turn jobs from Redis and runs them. Its only
// HTTP is a small listener for /metrics, /health and /ready (WORKER_METRICS_PORT); gateways
// started with RUN_WORKER=false queue the turns it runs.

const config = configFromProcess();
const log = createLogger(config);
if (!config.redisUrl) {
  log.fatal('a worker process needs REDIS_URL: it takes its turns from Redis');
  process.exit(1);
}

const backends = await createBackends(config, log);
// Turns run here, so they are counted here, and their traces start here (when
// OTEL_EXPORTER_OTLP_ENDPOINT is set).
const metrics = createMetrics();
// A bad MODEL_PRICES_FILE ends the process as a bad variable does.
const { clients, models } = await orExitOnConfigError(async () =>
  createModels(config, log, { quota: backends.quota, metrics }),
);
const telemetry = createTelemetry(config.otelEndpoint);
const turns = createTurns(backends, models, log, metrics);
const worker = await orExitOnConfigError(async () =>
  createWorker(config, log, {
    queue: backends.queue,
    approvals: backends.approvals,
    metrics,
    turns,
    models,
    agents: await AgentCatalog.load(config.agent.agentsFile, models),
    tracer: telemetry.tracer,
  }),
);
watchLostTurns(backends.queue, turns);
// Ready while Redis answers: a worker needs nothing else to take and run turns.
const port = config.workerMetricsPort;
const http =
  port === undefined
    ? undefined
    : {
        port,
        app: buildWorkerApp(config, log, {
          metrics: metrics.registry,
          checkReady: () => backends.ping(),
          details: () => workerDetails(worker),
        }),
      };

// Stop answering scrapes and probes, stop taking jobs, let running turns finish (the queue
// waits up to 10 s, then aborts the turns still running, which end as cancelled), close Redis.
async function close(): Promise<void> {
  await http?.app.close();
  try {
    await backends.close();
  } finally {
    // MCP server processes and database pools go whatever became of Redis.
    await worker.sources.close();
    clients.destroy();
    await telemetry.shutdown();
  }
}

closeWithGrace({ delay: 20_000 }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an error');
  else log.info({ signal, running: worker.worker.runningTurns }, 'worker shutting down');
  await close();
});

// Listening comes first: a worker whose port is taken exits before it takes any job.
if (http) {
  if (config.hostOverridden) {
    log.warn(
      `auth is off (no AUTH_API_KEYS or AUTH_JWT_SECRET): metrics listen on 127.0.0.1 instead of ${config.hostOverridden}`,
    );
  }
  await listenOrExit(
    () => http.app.listen({ port: http.port, host: config.host }),
    { what: 'the agentgate worker', variable: 'WORKER_METRICS_PORT', command: 'npm run worker' },
    close,
  );
}

await worker.worker.start();
log.info(
  {
    models: config.bedrock.models.map((m) => m.id),
    metrics: http ? `http://${config.host}:${http.port}/metrics` : 'off',
  },
  'agentgate worker ready',
);
