import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { HARD_LIMIT_FACTOR } from '../../src/gateway/drain-watch.ts';
import { type TestGateway, withGateway } from '../helpers/gateway.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { TestClient } from '../helpers/ws-client.ts';

const LIMIT = 1024 * 1024;
const CHUNK = 8_000;

const rawOf = (client: TestClient) => (client.socket as unknown as { _socket: net.Socket })._socket;

/** The gateway's side of its only client socket. */
function serverSocket(gw: TestGateway): WebSocket {
  const [socket] = [...gw.app.websocketServer.clients];
  if (!socket) throw new Error('the gateway has no client socket');
  return socket;
}

/** Samples `read` every few milliseconds until stopped; keeps the largest value. */
function peak(read: () => number) {
  let max = 0;
  const timer = setInterval(() => {
    max = Math.max(max, read());
  }, 2);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

describe('clients slower than their frames', () => {
  it('closes a client that stops reading with 1013, holding at most the hard limit', async () => {
    await withGateway({ MAX_CLIENT_BUFFER_BYTES: String(LIMIT) }, async (gw) => {
      const client = await gw.connect();
      rawOf(client).pause();
      gw.emulator.enqueue({ blocks: [{ text: 'x'.repeat(30_000_000) }], chunkChars: CHUNK });
      client.send({ type: 'chat', content: 'flood me' });
      const socket = serverSocket(gw);
      const buffered = peak(() => socket.bufferedAmount);
      for (let i = 0; i < 600 && socket.readyState === socket.OPEN; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const max = buffered.stop();
      expect(socket.readyState).not.toBe(socket.OPEN);
      expect(max).toBeGreaterThan(LIMIT);
      // The hard limit, plus the one frame written while just under it.
      expect(max).toBeLessThanOrEqual(LIMIT * HARD_LIMIT_FACTOR + CHUNK + 200);
      rawOf(client).resume();
      expect((await client.closed).code).toBe(1013);
    });
  }, 40_000);

  it('keeps a client that drains slower than a burst, and sends it every frame once, in order', async () => {
    await withGateway({ MAX_CLIENT_BUFFER_BYTES: String(LIMIT) }, async (gw) => {
      const client = await gw.connect();
      const raw = rawOf(client);
      raw.pause();
      // Reasoning, so that the burst is all small frames: turn-end holds only the answer.
      const reasoning = 'y'.repeat(12_000_000);
      // A pause between chunks lets the client, in this same process, read during the burst.
      gw.emulator.enqueue({
        blocks: [{ reasoning }, { text: 'Done.' }],
        chunkChars: CHUNK,
        delayMs: 1,
      });
      client.send({ type: 'chat', content: 'a long answer, please' });
      const socket = serverSocket(gw);
      // It reads one chunk every 50 ms, slower than the burst comes, and all it can while
      // the gateway holds more than the limit for it: it drains, but the gateway often holds
      // more than the limit. Once the gateway closes it, it reads to the end, to hear why.
      let ticks = 0;
      let overLimit = 0;
      const reader = setInterval(() => {
        if (socket.bufferedAmount > LIMIT) overLimit++;
        if (socket.bufferedAmount > LIMIT || socket.readyState !== socket.OPEN) {
          raw.resume();
          return;
        }
        raw.pause();
        if (ticks++ % 10 === 0) {
          raw.once('data', () => raw.pause());
          raw.resume();
        }
      }, 5);
      const closed = client.closed.then(({ code }) => {
        throw new Error(`the gateway closed the client with ${code}`);
      });
      const end = client.next((f) => f.type === 'turn-end', 60_000);
      await Promise.race([end, closed]).finally(() => clearInterval(reader));
      raw.resume();
      const start = client.frames.find((f) => f.type === 'turn-start')!;
      expect(overLimit, 'times the gateway held more than the limit').toBeGreaterThan(0);
      const frames = await client.turnFrames(start.turnId as string);
      expect(checkTurn(frames).text).toBe('Done.');
      const thought = frames.filter((f) => f.type === 'reasoning').map((f) => f.text);
      expect(thought.join('')).toBe(reasoning);
      expect(socket.readyState).toBe(socket.OPEN);
    });
  }, 90_000);
});
