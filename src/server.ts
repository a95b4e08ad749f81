import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.ts';
import { configFromProcess, orExitOnConfigError } from './config/from-process.ts';
import { listenOrExit } from './listen-problem.ts';
import { createLogger } from './logger.ts';

const config = configFromProcess();
const log = createLogger(config);
const app = await orExitOnConfigError(() => buildApp(config, log));

if (!config.auth.enabled) {
  log.warn(
    config.hostOverridden
      ? `auth is off (no AUTH_API_KEYS or AUTH_JWT_SECRET): listening on 127.0.0.1 instead of ${config.hostOverridden}`
      : 'auth is off (no AUTH_API_KEYS or AUTH_JWT_SECRET): listening on 127.0.0.1 only',
  );
}
closeWithGrace({ delay: 15_000 }, async ({ signal, err }) => {
  if (err) log.error({ err }, 'closing after an error');
  else log.info({ signal }, 'shutting down');
  await app.close();
});
// A taken port is the commonest first-run failure: one plain line, not a stack.
await listenOrExit(
  () => app.listen({ port: config.port, host: config.host }),
  { what: 'agentgate', variable: 'PORT', command: 'npm start' },
  () => app.close(),
);
log.info(
  { models: config.bedrock.models.map((m) => m.id), worker: config.runWorker },
  `agentgate ready: ws://${config.host}:${config.port}/v1/ws`,
);
