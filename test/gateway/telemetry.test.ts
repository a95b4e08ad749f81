import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, it } from 'vitest';
import { startGateway } from '../helpers/gateway.ts';

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  events?: { name: string; attributes: { key: string; value: Record<string, unknown> }[] }[];
}

/** An OTLP/HTTP collector on a free port that keeps every span it is sent. */
async function startCollector() {
  const spans: OtlpSpan[] = [];
  const paths: string[] = [];
  const collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      paths.push(`${req.headers['content-type']} ${req.url}`);
      const payload = JSON.parse(body) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const r of payload.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as AddressInfo;
  return { spans, paths, url: `http://127.0.0.1:${port}`, close: () => collector.close() };
}

const attribute = (span: OtlpSpan | undefined, key: string) =>
  span?.attributes.find((a) => a.key === key)?.value;

it('exports spans of the turn, its model calls and its tool calls over OTLP', async () => {
  const { spans, paths, url, close } = await startCollector();
  const gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: url });
  try {
    const client = await gw.connect();
    gw.emulator.enqueue(
      { blocks: [{ toolUse: { name: 'calculator', input: { expression: '2+3' } } }] },
      { blocks: [{ text: 'Five.' }] },
    );
    await client.chat('2+3?');
  } finally {
    await gw.close();
    close();
  }

  expect(paths.every((p) => p.endsWith(' /v1/traces'))).toBe(true);
  const turn = spans.find((s) => s.name === 'agentgate.turn');
  expect(turn).toBeDefined();
  const models = spans.filter((s) => s.name === 'bedrock.converse');
  const tools = spans.filter((s) => s.name === 'tool calculator');
  expect(models).toHaveLength(2);
  expect(tools).toHaveLength(1);
  for (const child of [...models, ...tools]) {
    expect(child.traceId).toBe(turn!.traceId);
    expect(child.parentSpanId).toBe(turn!.spanId);
  }
  const stop = turn!.attributes.find((a) => a.key === 'agentgate.stop_reason');
  expect(stop?.value).toEqual({ stringValue: 'end_turn' });
});

it('puts cache tokens and cost on each model call, and a wait for a slot on the turn', async () => {
  const { spans, url, close } = await startCollector();
  const haiku = 'anthropic.claude-3-5-haiku-20241022-v1:0';
  const gw = await startGateway({
    OTEL_EXPORTER_OTLP_ENDPOINT: url,
    BEDROCK_MODEL_ARNS: haiku,
    BEDROCK_MAX_CONCURRENCY: '1',
  });
  try {
    const [first, second] = await Promise.all([gw.connect(), gw.connect()]);
    const slow = { blocks: [{ text: 'Slowly.' }], delayMs: 50, chunkChars: 1 };
    const usage = {
      inputTokens: 10,
      outputTokens: 5,
      cacheReadInputTokens: 2000,
      cacheWriteInputTokens: 100,
    };
    gw.emulator.enqueue({ ...slow, usage }, slow);
    await Promise.all([first!.chat('one'), second!.chat('two')]);
  } finally {
    await gw.close();
    close();
  }
  const calls = spans.filter((s) => s.name === 'bedrock.converse');
  expect(calls).toHaveLength(2);
  const cached = calls.find(
    (s) => attribute(s, 'gen_ai.usage.cache_read.input_tokens')?.intValue === 2000,
  );
  expect(attribute(cached, 'gen_ai.usage.cache_creation.input_tokens')).toEqual({ intValue: 100 });
  expect(attribute(cached, 'gen_ai.usage.input_tokens')).toEqual({ intValue: 2110 });
  // Claude 3.5 Haiku: $0.80 in, $4 out, $0.08 cache read, $1 cache write per million tokens.
  expect(attribute(cached, 'agentgate.cost_usd')).toEqual({
    doubleValue: (10 * 0.8 + 5 * 4 + 2000 * 0.08 + 100 * 1) / 1e6,
  });
  // One turn waited for the other's slot: its span says how long.
  const waits = spans
    .filter((s) => s.name === 'agentgate.turn')
    .flatMap((s) => s.events ?? [])
    .filter((e) => e.name === 'bedrock.quota.wait');
  expect(waits).toHaveLength(1);
  const waited = waits[0]!.attributes.find((a) => a.key === 'agentgate.quota_wait_ms')?.value;
  expect(Number(waited?.intValue ?? waited?.doubleValue)).toBeGreaterThan(100);
});
