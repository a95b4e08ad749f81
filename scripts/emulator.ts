/**
 * Runs the Bedrock Runtime emulator for demos and manual testing:
 *   EMULATOR_PORT=4010 EMULATOR_HOST=127.0.0.1 npm run emulator
 * With no reply queued it answers from its demo script at a model's pace.
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

const emulator = await startEmulator({
  port,
  host,
  onRequest: (request) => console.log(describe(request)),
});
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
