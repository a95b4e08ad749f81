import closeWithGrace from 'close-with-grace';
import { createModels, createTurns, createWorker, watchLostTurns } from './app.ts';
import { createBackends } from './backends.ts';
import { configFromProcess } from './config/from-process.ts';
import { createLogger } from './logger.ts';
import { createTelemetry } from './telemetry.ts';

// The worker process (`npm run worker`): takes turn jobs from Redis and runs them. It
// serves no HTTP; gateways started with RUN_WORKER=false queue the turns it runs.

const config = configFromProcess();
const log = createLogger(config);
if (!config.redisUrl) {
  log.fatal('a worker process needs REDIS_URL: it takes its turns from Redis');
  process.exit(1);
}

const backends = await createBackends(config, log);
const { clients, models } = createModels(config, log);
// Turns run here, so their traces start here (when OTEL_EXPORTER_OTLP_ENDPOINT is set).
const telemetry = createTelemetry(config.otelEndpoint);
const turns = createTurns(backends, models, log);
const worker = createWorker(config, log, {
  queue: backends.queue,
  turns,
  models,
  tracer: telemetry.tracer,
});
watchLostTurns(backends.queue, turns);

// On SIGTERM/SIGINT: stop taking jobs, let running turns finish (the queue waits up to
// 10 s, then aborts the turns still running, which end as cancelled), close Redis.
closeWithGrace({ delay: 20_000 }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an error');
  else log.info({ signal, running: worker.runningTurns }, 'worker shutting down');
  await backends.close();
  clients.destroy();
  await telemetry.shutdown();
});

await worker.start();
log.info({ models: config.bedrock.models.map((m) => m.id) }, 'agentgate worker ready');
