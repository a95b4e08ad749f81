import { type Tracer, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface Telemetry {
  readonly tracer: Tracer;
  /** Sends what is buffered and stops. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Traces of turns, model calls and tool calls, sent over OTLP/HTTP (Phoenix and most
 * collectors listen for it) when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise the
 * OpenTelemetry API's no-op tracer, which costs nothing. The provider is not registered
 * globally: its tracer is handed to the code that makes spans.
 */
export function createTelemetry(endpoint: string | undefined): Telemetry {
  if (!endpoint) return { tracer: trace.getTracer('agentgate'), shutdown: async () => {} };
  // The variable names the collector's base URL; traces go to its /v1/traces path.
  const url = endpoint.endsWith('/v1/traces')
    ? endpoint
    : `${endpoint.replace(/\/$/, '')}/v1/traces`;
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'agentgate' }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer('agentgate'),
    shutdown: () => {
      stopped ??= provider.shutdown();
      return stopped;
    },
  };
}
