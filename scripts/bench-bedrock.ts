/**
 * `npm run bench:bedrock`: time to first token of sequential ConverseStream calls, through
 * the SDK's default HTTP/2 handler (a new connection per stream) and through agentgate's
 * pooled keep-alive clients. The emulator sits behind a local TLS terminator that adds a
 * fixed one-way delay, so connection set-up costs what it costs against a real endpoint:
 * TCP and TLS round trips. Fixed inputs: 40 calls per client, a 200-character answer.
 *
 * Loopback only. The terminator's certificate is self-signed, so this process turns off
 * certificate checks for itself (NODE_TLS_REJECT_UNAUTHORIZED=0): a benchmark, not a client.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { BedrockClients } from '../src/providers/bedrock/clients.ts';
import { startEmulator } from '../test/emulator/index.ts';

const CALLS = 40;
const ONE_WAY_DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 10);
const MODEL = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const ANSWER = 'The quick brown fox jumps over the lazy dog. '.repeat(5).slice(0, 200);
const credentials = { accessKeyId: 'AKIDBENCH', secretAccessKey: 'bench' };

process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
process.emitWarning = () => {};

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentgate-bench-'));
execFileSync(
  'openssl',
  [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path.join(dir, 'key.pem'),
    '-out',
    path.join(dir, 'cert.pem'),
  ],
  { stdio: 'ignore' },
);

const emulator = await startEmulator({ paceMs: 0 });
let connections = 0;
const delayed = (from: net.Socket, to: net.Socket) =>
  from.on('data', (chunk) => setTimeout(() => to.write(chunk), ONE_WAY_DELAY_MS));
// A TLS terminator with a delay each way: what a real endpoint's round trips cost.
const terminator = tls.createServer(
  {
    key: readFileSync(path.join(dir, 'key.pem')),
    cert: readFileSync(path.join(dir, 'cert.pem')),
    ALPNProtocols: ['h2', 'http/1.1'],
  },
  (client) => {
    connections++;
    const upstream = net.connect(emulator.port, '127.0.0.1');
    delayed(client, upstream);
    delayed(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  },
);
// The TCP handshake pays the delay too.
const front = net.createServer((socket) => {
  socket.pause();
  setTimeout(() => {
    terminator.emit('connection', socket);
    socket.resume();
  }, 2 * ONE_WAY_DELAY_MS);
});
await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
const endpoint = `https://127.0.0.1:${(front.address() as net.AddressInfo).port}`;

async function measure(name: string, client: BedrockRuntimeClient) {
  const before = connections;
  const ttft: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    emulator.enqueue({ blocks: [{ text: ANSWER }], chunkChars: 8 });
    const started = performance.now();
    const response = await client.send(
      new ConverseStreamCommand({
        modelId: MODEL,
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
    );
    let first = 0;
    for await (const event of response.stream ?? []) {
      if (!first && event.contentBlockDelta) first = performance.now() - started;
    }
    ttft.push(first);
  }
  ttft.sort((a, b) => a - b);
  const at = (q: number) =>
    ttft[Math.min(ttft.length - 1, Math.floor(q * ttft.length))]!.toFixed(1);
  console.log(
    `${name.padEnd(34)} ttft p50 ${at(0.5)} ms  p95 ${at(0.95)} ms  connections ${connections - before}`,
  );
}

console.log(`${CALLS} sequential ConverseStream calls, ${ONE_WAY_DELAY_MS} ms each way, TLS`);
const sdkDefault = new BedrockRuntimeClient({ region: 'us-east-1', endpoint, credentials });
await measure('SDK default (HTTP/2 per stream)', sdkDefault);
sdkDefault.destroy();
const pooled = new BedrockClients({
  credentials: async () => credentials,
  maxAttempts: 1,
  endpoint,
  profile: undefined,
});
await measure('agentgate (HTTP/1.1 keep-alive)', pooled.get('us-east-1'));
pooled.destroy();

front.close();
terminator.close();
await emulator.close();
