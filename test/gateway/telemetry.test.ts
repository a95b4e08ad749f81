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
}

it('exports spans of the turn, its model calls and its tool calls over OTLP', async () => {
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

  const gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
  try {
    const client = await gw.connect();
    gw.emulator.enqueue(
      { blocks: [{ toolUse: { name: 'calculator', input: { expression: '2+3' } } }] },
      { blocks: [{ text: 'Five.' }] },
    );
    await client.chat('2+3?');
  } finally {
    await gw.close();
    collector.close();
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
