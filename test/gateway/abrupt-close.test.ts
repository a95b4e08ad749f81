import { readdirSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';

const CONNECTS = 2_000;
const AT_ONCE = 20;
/** Exactly what one batch opens: a socket count that leaked by one refuses the last. */
const SOCKETS_PER_USER = AT_ONCE;
/** Open descriptors the test tolerates over its baseline (timers, a log file, ...). */
const FD_TOLERANCE = 8;

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({ MAX_SOCKETS_PER_USER: String(SOCKETS_PER_USER) });
});
afterAll(async () => {
  await gw.close();
});

const openFds = () => readdirSync('/proc/self/fd').length;
const serverSockets = () => gw.app.websocketServer.clients.size;

async function socketsOpenMetric(): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return Number(/^agentgate_sockets_open (\d+)/m.exec(text)?.[1]);
}

/** Resolves once `ws` has opened; a socket the server refused resolves too. */
function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.once('open', () => resolve());
    ws.once('error', () => resolve());
    ws.once('close', () => resolve());
  });
}

function rawOf(ws: WebSocket): net.Socket {
  return (ws as unknown as { _socket: net.Socket })._socket;
}

/** The first bytes of a masked client text frame that announces 1,000 bytes of payload. */
function partialFrame(): Buffer {
  const header = Buffer.from([0x81, 0x80 | 126, 1_000 >> 8, 1_000 & 0xff, 1, 2, 3, 4]);
  return Buffer.concat([header, Buffer.from('{"type":"chat","content":"cut here')]);
}

/** An upgrade request for the gateway's socket route, or the first `cut` bytes of one. */
function upgradeRequest(cut?: number): string {
  const { host } = new URL(gw.url);
  const request = [
    'GET /v1/ws HTTP/1.1',
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    '',
    '',
  ].join('\r\n');
  return cut === undefined ? request : request.slice(0, cut);
}

async function rawConnect(send: string): Promise<void> {
  const { hostname, port } = new URL(gw.url);
  const socket = net.connect(Number(port), hostname);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(send);
  socket.destroy();
}

/** One connect and one abrupt close, in the way `i` picks. */
async function connectAndDrop(i: number): Promise<void> {
  switch (i % 6) {
    case 0:
      return rawConnect(upgradeRequest(1 + (i % 90)));
    case 1:
      return rawConnect(upgradeRequest());
  }
  const ws = new WebSocket(gw.wsUrl);
  // Listening from the start: `ready` may come in the same tick as the upgrade.
  const first = new Promise<{ conversationId?: string }>((resolve) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data))));
    ws.once('close', () => resolve({}));
  });
  await opened(ws);
  if (ws.readyState !== WebSocket.OPEN) return;
  switch (i % 6) {
    case 2:
      ws.terminate();
      return;
    case 3:
      rawOf(ws).write(partialFrame());
      rawOf(ws).destroy();
      return;
    case 4: {
      // Watching its conversation: the session's subscription must go with the socket.
      const { conversationId } = await first;
      ws.send(JSON.stringify({ type: 'subscribe', conversationId }));
      ws.terminate();
      return;
    }
    default:
      ws.send(JSON.stringify({ type: 'ping', id: i }));
      rawOf(ws).destroy();
  }
}

/** A socket that asks for a long answer and is dropped once the answer streams. */
async function dropMidTurn(): Promise<void> {
  gw.emulator.enqueue({ blocks: [{ text: 'word '.repeat(4_000) }], chunkChars: 5 });
  const client = await TestClient.connect(gw.wsUrl);
  client.send({ type: 'chat', content: 'talk for a while' });
  const start = await client.next((f) => f.type === 'turn-start' || f.type === 'error');
  expect(start.type, JSON.stringify(start)).toBe('turn-start');
  await client.next((f) => f.type === 'token');
  client.socket.terminate();
}

async function until(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await done()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('sockets closed abruptly', () => {
  it(`leaves no socket, descriptor or per-user count behind after ${CONNECTS} drops`, async () => {
    // Warm up what is opened once and kept (the connection to the model endpoint).
    gw.emulator.enqueue({ blocks: [{ text: 'Warm.' }] });
    const warm = await TestClient.connect(gw.wsUrl);
    checkTurn(await warm.chat('warm up'));
    await warm.close();
    await until(() => serverSockets() === 0, 'the warm-up socket to close');
    const baseline = openFds();

    for (let i = 0; i < CONNECTS; i += AT_ONCE) {
      const batch = Array.from({ length: AT_ONCE }, (_, k) => connectAndDrop(i + k));
      await Promise.all(batch);
      if (i % 250 === 0) {
        // The drops of the batch may not have reached the server yet: it would refuse.
        await until(() => serverSockets() === 0, 'the batch to close');
        await dropMidTurn();
      }
    }

    await until(() => serverSockets() === 0, 'every server socket to close');
    await until(async () => (await socketsOpenMetric()) === 0, 'agentgate_sockets_open = 0');
    await until(() => openFds() <= baseline + FD_TOLERANCE, 'descriptors back to baseline');

    // Every one of the user's sockets is accepted: no count was left behind by a drop.
    const clients = await Promise.all(
      Array.from({ length: SOCKETS_PER_USER }, () => TestClient.connect(gw.wsUrl)),
    );
    for (const client of clients) expect(client.ready.type).toBe('ready');
    gw.emulator.enqueue({ blocks: [{ text: 'All good.' }] });
    expect(checkTurn(await clients[0]!.chat('still fine?')).end.text).toBe('All good.');
    await Promise.all(clients.map((c) => c.close()));
  }, 60_000);
});
