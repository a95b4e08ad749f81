/**
 * `npm run demo`: the Bedrock emulator and the gateway in one process, so a fresh machine
 * can chat with a tool-calling agent without AWS. Ctrl-C stops both.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/logger.ts';
import { startEmulator } from '../test/emulator/index.ts';

const emulator = await startEmulator({
  port: Number(process.env.EMULATOR_PORT ?? 4010),
  host: '127.0.0.1',
});
const config = loadConfig({
  LOG_LEVEL: 'warn',
  ...process.env,
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
  AWS_ACCESS_KEY_ID: 'AKIDDEMO',
  AWS_SECRET_ACCESS_KEY: 'demo-secret',
  AWS_EC2_METADATA_DISABLED: 'true',
});
const app = await buildApp(config, createLogger(config));
closeWithGrace({ delay: 5_000 }, async () => {
  await app.close();
  await emulator.close();
});
await app.listen({ port: config.port, host: config.host });

const base = `${config.host}:${config.port}`;
process.stdout.write(`
agentgate demo is running (Bedrock emulator at ${emulator.url}; no AWS account needed).

  Web page:  http://${base}/
  wscat:     npx wscat -c ws://${base}/v1/ws
             then type:  what time is it in Tokyo?
                         what is (12+30)*2?
                         hello there

Ctrl-C stops it.
`);
