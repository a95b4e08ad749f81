import closeWithGrace from 'close-with-grace';
import { config as loadDotenv } from 'dotenv';
import { buildApp } from './app.ts';
import { type Config, ConfigError, loadConfig } from './config/config.ts';
import { createLogger } from './logger.ts';

/** Reads `.env` (when present) under the real environment, then validates it all. */
export function configFromProcess(): Config {
  loadDotenv({ quiet: true });
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`agentgate: ${error.message}\n`);
    process.exit(1);
  }
}

const config = configFromProcess();
const log = createLogger(config);
const app = await buildApp(config, log);

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
await app.listen({ port: config.port, host: config.host });
log.info(
  { models: config.bedrock.models.map((m) => m.id), worker: config.runWorker },
  `agentgate ready: ws://${config.host}:${config.port}/v1/ws`,
);
