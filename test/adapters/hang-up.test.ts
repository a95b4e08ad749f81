import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SseStream } from '../../src/gateway/sse.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { userMessage } from '../helpers/ai-chat.ts';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { StallProxy } from '../helpers/stall-proxy.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from '../redis/fixture.ts';

// A stream's request that is still being started (admitted, its frame log read) when its
// client hangs up, or when the gateway shuts down. The start is made slow on purpose: the
// gateway reaches Redis through a proxy that holds what it sends, so the request waits in
// its admission for as long as the test says.

let emulator: Emulator;
let admin: Redis;
const prefixes: string[] = [];
const gateways: TestGateway[] = [];
let proxy: StallProxy;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  const { hostname, port } = new URL(REDIS_URL);
  proxy = await StallProxy.start({ host: hostname, port: Number(port || 6379) });
});
afterEach(async () => {
  proxy.release();
  await Promise.all(gateways.splice(0).map((gw) => gw.close()));
  emulator.reset();
});
afterAll(async () => {
  await proxy?.close();
  await emulator?.close();
  for (const prefix of prefixes) await deletePrefix(admin, prefix);
  admin?.disconnect();
});

/** A gateway (with its worker) on Redis through the proxy, one stream per user. */
async function gateway(): Promise<TestGateway> {
  const prefix = testPrefix();
  prefixes.push(prefix);
  const gw = await startGateway(
    { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: prefix, MAX_SOCKETS_PER_USER: '1' },
    emulator,
  );
  gateways.push(gw);
  return gw;
}

const newId = () => `chat-${Math.random().toString(36).slice(2)}`;

/** A reply of about `seconds` seconds, so that the turn is still running while the test acts. */
function slowReply(seconds: number) {
  const text = 'slow '.repeat(Math.ceil(seconds * 20));
  emulator.enqueue({ blocks: [{ text }], chunkChars: 5, delayMs: 50 });
  return text;
}

/** Posts an AI SDK chat over a raw request, which the test can hang up at any moment. */
function postChat(gw: TestGateway, id: string): http.ClientRequest {
  const { port } = new URL(gw.url);
  const request = http.request({
    host: '127.0.0.1',
    port,
    path: '/v1/ai-sdk/chat',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    agent: false,
  });
  request.on('error', () => undefined); // it is hung up on purpose
  request.end(JSON.stringify({ id, messages: [userMessage('tell me slowly')] }));
  return request;
}

/** Open TCP connections of a server. */
function connections(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

/** The conversation's running turn, as the conversation list says. */
async function runningTurn(gw: TestGateway, id: string): Promise<string | null | undefined> {
  const list = (await fetch(`${gw.url}/v1/conversations`).then((r) => r.json())) as {
    conversations?: { id: string; runningTurnId: string | null }[];
  };
  return list.conversations?.find((c) => c.id === id)?.runningTurnId;
}

const streamsOpen = async (gw: TestGateway) => {
  const text = await fetch(`${gw.url}/metrics`).then((r) => r.text());
  return Number(/^agentgate_sse_streams_open (\d+)/m.exec(text)?.[1]);
};

describe('a client that hangs up while its stream is being started', () => {
  it('frees its stream at once: the turn goes on, and the user may open another stream', async () => {
    const gw = await gateway();
    const id = newId();
    const text = slowReply(6);
    proxy.hold();
    const request = postChat(gw, id);
    // The chat waits in its admission, on Redis (the conversation's id is in what it sent).
    await proxy.held(id);
    request.destroy();
    await expect.poll(() => connections(gw.app.server)).toBe(0);
    proxy.release();

    // The chat is admitted all the same, and its turn runs.
    await expect.poll(() => runningTurn(gw, id), { timeout: 5_000 }).toEqual(expect.any(String));
    // Its stream is not held until the turn ends: with one stream per user, the resume of
    // the same turn is served while the turn still runs.
    let resume: Response | undefined;
    await expect
      .poll(
        async () => {
          await resume?.body?.cancel();
          resume = await fetch(`${gw.url}/v1/ai-sdk/chat/${id}/stream`);
          return resume.status;
        },
        { timeout: 3_000, interval: 100 },
      )
      .toBe(200);
    const body = await resume!.text();
    expect(body).toContain('"type":"finish"');
    const deltas = [...body.matchAll(/"delta":"([^"]*)"/g)].map((m) => m[1]).join('');
    expect(deltas).toBe(text);
    await expect.poll(() => streamsOpen(gw)).toBe(0);
  }, 30_000);
});

describe('a gateway that shuts down while a stream is being started', () => {
  it('ends that stream with the shutdown error as soon as its turn is found', async () => {
    const gw = await gateway();
    const id = newId();
    slowReply(6);
    proxy.hold();
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = postChat(gw, id);
      request.on('response', (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        response.on('error', reject);
      });
    });
    await proxy.held(id);
    const closing = gw.app.close();
    // Shutdown has begun (the listener is closed) while the chat waits in its admission.
    await expect.poll(() => gw.app.server.listening).toBe(false);
    proxy.release();

    const started = Date.now();
    const { status, body } = await answer;
    expect(status).toBe(200);
    const chunks = body
      .split('\n')
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)) as { type: string; errorText?: string });
    expect(chunks.find((c) => c.type === 'error')?.errorText).toMatch(/shutting down/);
    expect(chunks.at(-1)).toMatchObject({
      type: 'finish',
      finishReason: 'error',
      messageMetadata: { conversationId: id, error: { code: 'unavailable' } },
    });
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    // Not held until the turn ends (about 6 s).
    expect(Date.now() - started).toBeLessThan(3_000);
    await closing;
  }, 30_000);
});

describe('SseStream', () => {
  it('ends at once when its client is gone before it is made', async () => {
    const app = Fastify();
    let endCalls = 0;
    const made = new Promise<SseStream>((resolve) => {
      app.get('/sse', async (_request, reply) => {
        // Made only once the client has hung up, as after a slow start.
        await new Promise((done) => reply.raw.once('close', done));
        resolve(new SseStream(reply, { maxBufferBytes: 1024, onEnd: () => endCalls++ }));
        return reply;
      });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const request = http.get({ host: '127.0.0.1', port, path: '/sse', agent: false });
      request.on('error', () => undefined);
      await expect.poll(() => connections(app.server)).toBe(1);
      request.destroy();
      const sse = await made;
      expect(sse.ended).toBe(true);
      expect(sse.signal.aborted).toBe(true);
      expect(endCalls).toBe(1);
      sse.end();
      expect(endCalls).toBe(1);
    } finally {
      await app.close();
    }
  });
});
