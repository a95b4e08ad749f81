/**
 * The benchmark's Bedrock emulator, in a process of its own (started by scripts/bench.ts
 * with its port and the shape of every turn as its argument): it answers every request with the bench
 * script (test/emulator/bench-script.ts), says its URL over the message channel, and
 * closes when told or when the benchmark goes.
 */
import { z } from 'zod';
import { benchReply, startEmulator } from '../../test/emulator/index.ts';

const Config = z.object({
  /** 0: any free port. */
  port: z.int().min(0).max(65535),
  chunks: z.int().min(1),
  chunkChars: z.int().min(1),
  delayMs: z.int().min(0),
  firstChunkMs: z.int().min(0),
});

const { port, ...shape } = Config.parse(JSON.parse(process.argv[2] ?? '{}'));
const emulator = await startEmulator({ port, script: (body) => benchReply(body, shape) });
// The records of every request are for tests; a long run would only pile them up.
setInterval(() => emulator.reset(), 1_000).unref();

let closing = false;
function close(): void {
  if (closing) return;
  closing = true;
  emulator.close().finally(() => process.exit(0));
}
process.on('message', (message: { type?: string }) => {
  if (message?.type === 'exit') close();
});
process.on('disconnect', close);
process.on('SIGTERM', close);
process.send?.({ type: 'listening', url: emulator.url });
