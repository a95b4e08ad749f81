import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/config.ts';
import { createMetrics } from '../src/metrics.ts';
import { buildWorkerApp } from '../src/worker-app.ts';

// The worker process's listener, in this process on a real socket; the worker process
// itself is tested in test/redis/worker-metrics.test.ts.
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(env: Record<string, string>, checkReady = async () => {}): Promise<string> {
  const config = loadConfig(env);
  const metrics = createMetrics();
  metrics.turns.inc({ stop_reason: 'end_turn' });
  app = buildWorkerApp(config, pino({ level: 'silent' }), {
    metrics: metrics.registry,
    checkReady,
  });
  return app.listen({ port: 0, host: config.host });
}

describe('a worker process’s listener', () => {
  it('serves /metrics to a token when auth is on, and /health and /ready to anyone', async () => {
    const url = await start({ AUTH_API_KEYS: 'key-ops:ops' });
    const refused = await fetch(`${url}/metrics`);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: 'unauthorized' } });
    const scraped = await fetch(`${url}/metrics`, {
      headers: { authorization: 'Bearer key-ops' },
    });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('agentgate_turns_total{stop_reason="end_turn"} 1');
    expect((await fetch(`${url}/health`)).status).toBe(200);
    expect((await fetch(`${url}/ready`)).status).toBe(200);
  });

  it('serves nothing but the probes and the metrics', async () => {
    const url = await start({ AUTH_API_KEYS: 'key-ops:ops' });
    const headers = { authorization: 'Bearer key-ops' };
    for (const path of ['/v1/models', '/v1/ws', '/', '/app.js']) {
      expect((await fetch(`${url}${path}`, { headers })).status, path).toBe(404);
    }
  });

  it('answers /ready 503 with the reason when Redis does not answer', async () => {
    const url = await start({}, async () => {
      throw new Error('Redis did not answer PING within 1000 ms.');
    });
    const ready = await fetch(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      status: 'unavailable',
      reason: 'Redis did not answer PING within 1000 ms.',
    });
  });
});
