/**
 * Runs the Bedrock Runtime emulator for demos and manual testing:
 *   EMULATOR_PORT=4010 EMULATOR_HOST=127.0.0.1 npm run emulator
 * With no reply queued it answers from its demo script at a model's pace.
 * EMULATOR_CONCURRENCY_QUOTAS sets Bedrock's per-model concurrency quotas, as `model=max` pairs
 * separated by commas (`*` for every model without its own): `*=4,us.anthropic.claude-sonnet-4-20250514-v1:0=2`.
 */

import { type RecordedRequest, startEmulator } from '../test/emulator/index.ts';

function describe(request: RecordedRequest): string {
  const who = `${request.accessKeyId ?? '(unsigned)'} ${request.region ?? '?'}`;
  return `#${request.id} ${request.operation} ${request.modelId} ${who} HTTP/${request.httpVersion}`;
}

const port = Number(process.env.EMULATOR_PORT ?? 4010);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`EMULATOR_PORT must be a port number, not "${process.env.EMULATOR_PORT}".`);
  process.exit(1);
}
const host = process.env.EMULATOR_HOST ?? '127.0.0.1';

/** `*=4,model=2` → `{ '*': 4, model: 2 }`; exits with a plain line when it cannot be read. */
function parseQuotas(text: string | undefined): Record<string, number> {
  const quotas: Record<string, number> = {};
  for (const pair of (text ?? '').split(',').filter((part) => part.trim() !== '')) {
    const at = pair.lastIndexOf('=');
    const modelId = pair.slice(0, at).trim();
    const max = Number(pair.slice(at + 1));
    if (at < 1 || modelId === '' || !Number.isInteger(max) || max < 0) {
      console.error(
        `EMULATOR_CONCURRENCY_QUOTAS must be model=max pairs separated by commas, as in "*=4", not "${text}".`,
      );
      process.exit(1);
    }
    quotas[modelId] = max;
  }
  return quotas;
}

const concurrencyQuotas = parseQuotas(process.env.EMULATOR_CONCURRENCY_QUOTAS);
const emulator = await startEmulator({
  port,
  host,
  concurrencyQuotas,
  onRequest: (request) => console.log(describe(request)),
});
for (const [modelId, max] of Object.entries(concurrencyQuotas)) {
  console.log(
    `Concurrency quota: ${max} request(s) in flight for ${modelId === '*' ? 'each model' : modelId}.`,
  );
}
console.log(
  `Bedrock emulator listening. Point the gateway at it with:\n  AWS_ENDPOINT_URL_BEDROCK_RUNTIME=${emulator.url}`,
);

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing the emulator.`);
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error('Could not close the emulator cleanly:', error);
      process.exit(1);
    },
  );
}
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));
