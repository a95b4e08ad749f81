import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.ts';
import { type Config, loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { TestClient } from './ws-client.ts';

export interface TestGateway {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly emulator: Emulator;
  readonly url: string;
  readonly wsUrl: string;
  connect(query?: string): Promise<TestClient>;
  /** Closes every client `connect` opened. */
  closeClients(): Promise<void>;
  close(): Promise<void>;
}

/** Environment every test gateway starts from: the emulator as Bedrock, fixed test keys. */
export function testEnv(emulator: Emulator, env: Record<string, string> = {}) {
  return {
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'AKIDGATEWAYTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    BEDROCK_MAX_ATTEMPTS: '1',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  };
}

/**
 * The real app on a free port, with the Bedrock emulator (its own, unless one is given).
 * Closing closes the app, its clients, and the emulator it started.
 */
export async function startGateway(
  env: Record<string, string> = {},
  shared?: Emulator,
  logTo?: DestinationStream,
): Promise<TestGateway> {
  const emulator = shared ?? (await startEmulator({ paceMs: 0 }));
  const config = loadConfig(testEnv(emulator, env));
  const app = await buildApp(config, createLogger(config, logTo));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}/v1/ws`;
  const clients: TestClient[] = [];
  const closeClients = async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  };
  return {
    app,
    config,
    emulator,
    url,
    wsUrl,
    async connect(query = '') {
      const client = await TestClient.connect(`${wsUrl}${query}`);
      clients.push(client);
      return client;
    },
    closeClients,
    async close() {
      await closeClients();
      await app.close();
      if (!shared) await emulator.close();
    },
  };
}

/** Runs `fn` against a gateway started with `env` (see startGateway), closing it after. */
export async function withGateway<T>(
  env: Record<string, string>,
  fn: (gw: TestGateway) => Promise<T>,
  options: { emulator?: Emulator; logTo?: DestinationStream } = {},
): Promise<T> {
  const gw = await startGateway(env, options.emulator, options.logTo);
  try {
    return await fn(gw);
  } finally {
    await gw.close();
  }
}
