import { networkInterfaces } from 'node:os';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { checkTurn } from '../helpers/invariants.ts';
import { TestClient } from '../helpers/ws-client.ts';
import { adminRedis, deletePrefix, REDIS_URL, testPrefix } from './fixture.ts';
import {
  type GatewayProcess,
  processEnv,
  startGatewayProcess,
  startWorkerProcess,
  type WorkerProcess,
} from './processes.ts';

// A worker process runs the turns a gateway-only process queues: its own listener is the
// only place where those turns are counted.
let emulator: Emulator;
let admin: Redis;
let prefix: string;
let gateway: GatewayProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  admin = adminRedis();
  prefix = testPrefix();
  const env = processEnv(emulator, REDIS_URL, prefix);
  [gateway, worker] = await Promise.all([
    startGatewayProcess('gateway', env),
    startWorkerProcess('worker', env, REDIS_URL),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway, worker].map((c) => c?.stop()));
  await emulator?.close();
  await deletePrefix(admin, prefix);
  admin.disconnect();
}, 30_000);

describe('the worker process’s metrics listener', () => {
  it('answers /health and /ready while Redis answers', async () => {
    onTestFailed(() => console.error(worker.log()));
    const health = await fetch(`${worker.metricsUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${worker.metricsUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('counts the turns the worker runs, with their time to first token', async () => {
    onTestFailed(() => {
      for (const child of [gateway, worker]) console.error(child.log());
    });
    const client = await TestClient.connect(gateway.wsUrl);
    emulator.enqueue({ blocks: [{ text: 'Counted by the worker.' }] });
    const turn = checkTurn(await client.chat('count me', {}, 20_000));
    expect(turn.end.stopReason).toBe('end_turn');
    await client.close();

    const response = await fetch(`${worker.metricsUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await response.text();
    const lines = text.split('\n');
    expect(lines).toContain('agentgate_turns_total{stop_reason="end_turn"} 1');
    expect(lines).toContain('agentgate_time_to_first_token_seconds_count 1');
    expect(lines).toContain('agentgate_turn_duration_seconds_count 1');
    // The default process metrics are there too.
    expect(text).toContain('agentgate_process_cpu_seconds_total');
  }, 60_000);

  it('stays on 127.0.0.1 without auth, whatever HOST says, and says so', async () => {
    const outside = Object.values(networkInterfaces())
      .flat()
      .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
    expect(outside, 'this machine has an address besides loopback').toBeDefined();
    const env = processEnv(emulator, REDIS_URL, prefix, { HOST: '0.0.0.0', LOG_LEVEL: 'info' });
    const open = await startWorkerProcess('worker-host', env, REDIS_URL);
    onTestFailed(() => console.error(open.log()));
    try {
      expect((await fetch(`${open.metricsUrl}/health`)).status).toBe(200);
      const port = new URL(open.metricsUrl).port;
      await expect(fetch(`http://${outside}:${port}/health`)).rejects.toThrow();
      expect(open.output.join('')).toContain('metrics listen on 127.0.0.1 instead of 0.0.0.0');
    } finally {
      await open.stop();
    }
  }, 60_000);
});
