/**
 * `npm run demo`: the Bedrock emulator and the gateway in one process, so a fresh machine
 * can chat with a tool-calling agent without AWS. Ctrl-C (or SIGTERM) stops both.
 *
 *   PORT=3000           the gateway's port
 *   EMULATOR_PORT=4010  the emulator's port
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from '../src/app.ts';
import { type Config, ConfigError, DEFAULT_MODELS, loadConfig } from '../src/config/config.ts';
import { listenOrExit } from '../src/listen-problem.ts';
import { createLogger } from '../src/logger.ts';
import { startEmulator } from '../test/emulator/index.ts';
import { buildWebPage } from './build-web.ts';

/**
 * With auth off every client is the same user ("anonymous"), so the production per-user
 * limits (32 sockets, 4 running turns) would refuse most of `npm run loadtest`'s clients.
 * The demo listens on 127.0.0.1 only; the environment still wins over these.
 */
const DEMO_LIMITS = { MAX_SOCKETS_PER_USER: '500', MAX_TURNS_PER_USER: '500' };
/**
 * The default models, then Claude 3.7 Sonnet, which has prompt caching and extended thinking
 * (examples/agents.yaml's analyst runs on it).
 */
const DEMO_MODELS = {
  BEDROCK_MODEL_ARNS: `${DEFAULT_MODELS},us.anthropic.claude-3-7-sonnet-20250219-v1:0`,
};
/** A harmless tool that needs approval (save_note), so that the approval card shows. */
const DEMO_TOOLS = { TOOL_MODULES: 'examples/tools/notes.ts' };

const emulatorPort = Number(process.env.EMULATOR_PORT || 4010);
if (!Number.isInteger(emulatorPort) || emulatorPort < 0 || emulatorPort > 65535) {
  process.stderr.write(
    `EMULATOR_PORT must be a port number, not "${process.env.EMULATOR_PORT}".\n`,
  );
  process.exit(1);
}
const emulator = await listenOrExit(
  () => startEmulator({ port: emulatorPort, host: '127.0.0.1' }),
  { what: "The demo's Bedrock emulator", variable: 'EMULATOR_PORT', command: 'npm run demo' },
);

let config: Config;
try {
  config = loadConfig({
    LOG_LEVEL: 'warn',
    ...DEMO_LIMITS,
    ...DEMO_MODELS,
    ...DEMO_TOOLS,
    ...process.env,
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'AKIDDEMO',
    AWS_SECRET_ACCESS_KEY: 'demo-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  await emulator.close();
  process.exit(1);
}
// The page is built from web/ when it changed; without it the gateway still runs (and says so).
await buildWebPage().catch((error: Error) => {
  process.stderr.write(`Cannot build the web page: ${error.message}\n`);
});
const app = await buildApp(config, createLogger(config));
closeWithGrace({ delay: 5_000 }, async ({ err }) => {
  if (err) process.stderr.write(`demo: closing after an error: ${err.stack ?? err}\n`);
  await app.close();
  await emulator.close();
});
await listenOrExit(
  () => app.listen({ port: config.port, host: config.host }),
  { what: 'The demo', variable: 'PORT', command: 'npm run demo' },
  async () => {
    await app.close();
    await emulator.close();
  },
);

const base = `${config.host}:${config.port}`;
process.stdout.write(`
agentgate demo is running (Bedrock emulator at ${emulator.url}; no AWS account needed).

  Web page:  http://${base}/
  wscat:     npx wscat -c ws://${base}/v1/ws
             then type:  which product sold best last month?   (the SQL skill, on a demo shop)
                         save a note: buy milk   (asks for your approval first: the page shows
                           a card; in wscat answer the approval-request with
                           {"type":"approve","conversationId":"c_…","toolCallId":"tooluse_…","decision":"approve"})
                         what time is it in Tokyo?
                         what is (12+30)*2?
                         hello there
  Load test: npm run loadtest  (per-user limits: ${config.limits.maxSocketsPerUser} sockets, ${config.limits.maxTurnsPerUser} running turns)
  Bedrock in depth: AGENTS_FILE=examples/analyst.yaml npm run demo shows prompt caching in
             turn-end.usage; add BEDROCK_REASONING_BUDGET_TOKENS=2048 for thinking (docs/bedrock.md)

Ctrl-C stops it.
`);
