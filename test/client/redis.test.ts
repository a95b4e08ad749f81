import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Client, connect, type TurnFrame } from '../../src/client/index.ts';
import type { Emulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import type { Frame } from '../helpers/ws-client.ts';
import { type GatewayProcess, useProcessRig } from '../redis/processes.ts';

// The client across gateway processes on one Redis: a socket dropped on gateway A resumes on
// gateway B (a load balancer's choice), where frames arrive through Redis.
const rig = useProcessRig();
let emulator: Emulator;
let gatewayA: GatewayProcess;
let gatewayB: GatewayProcess;
const clients: Client[] = [];

/** New sockets go where `target.url` says; the client always asks for gateway A. */
const sockets: WebSocket[] = [];
const target = { url: '' };
class Balanced extends WebSocket {
  constructor(url: string, protocols?: string | string[], options?: WebSocket.ClientOptions) {
    super(target.url || url, protocols, options);
    sockets.push(this);
  }
}

beforeAll(async () => {
  emulator = rig.emulator;
  [gatewayA, gatewayB] = await Promise.all([
    rig.gateway('gateway-a'),
    rig.gateway('gateway-b'),
    rig.worker('worker'),
  ]);
}, 60_000);

afterEach(async () => {
  target.url = '';
  await Promise.all(clients.splice(0).map((c) => c.close()));
  emulator.reset();
});

async function open(): Promise<Client> {
  const client = await connect({
    url: gatewayA.wsUrl,
    WebSocket: Balanced,
    reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
  });
  clients.push(client);
  return client;
}

const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i} `).join('');

describe('the client on two gateways and one Redis', () => {
  it('resumes a turn dropped on gateway A on gateway B, exact', async () => {
    rig.showLogsOnFailure();
    const client = await open();
    const answer = words(60);
    emulator.enqueue({ blocks: [{ text: answer }], chunkChars: 6, delayMs: 10 });
    const turn = client.chat('a long one please');
    const frames: TurnFrame[] = [];
    for await (const frame of turn) {
      frames.push(frame);
      if (frames.length === 6) {
        target.url = gatewayB.wsUrl;
        sockets.at(-1)!.terminate();
      }
    }
    checkTurn(frames as unknown as Frame[]);
    expect((await turn.end).text).toBe(answer);
    expect(sockets.at(-1)!.url).toBe(gatewayB.wsUrl);

    // The default conversation is still the first ready's, on gateway B too.
    emulator.enqueue({ blocks: [{ text: 'Again.' }] });
    const again: TurnFrame[] = [];
    for await (const frame of client.chat('again')) again.push(frame);
    expect(again[0]!.conversationId).toBe(frames[0]!.conversationId);
    expect(again[0]!.seq).toBe(frames.at(-1)!.seq + 1);
    checkTurn(again as unknown as Frame[]);
  }, 30_000);

  it('runs once a chat whose socket drops as it is sent, and goes on elsewhere', async () => {
    rig.showLogsOnFailure();
    const client = await open();
    emulator.enqueue({ blocks: [{ text: 'Only once.' }] });
    const turn = client.chat('once please');
    target.url = gatewayB.wsUrl;
    sockets.at(-1)!.terminate();
    expect((await turn.end).text).toBe('Only once.');
    const users = (await client.history()).filter((m) => m.role === 'user');
    expect(users.map((m) => m.content)).toEqual(['once please']);
  }, 30_000);
});
