import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The process's Prometheus metrics, served at `/metrics` by gateways. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'agentgate_' });
  const registers = [registry];
  return {
    registry,
    socketsOpen: new Gauge({
      name: 'agentgate_sockets_open',
      help: 'Open WebSocket sessions.',
      registers,
    }),
    sseStreamsOpen: new Gauge({
      name: 'agentgate_sse_streams_open',
      help: 'Open Server-Sent Events streams of the HTTP adapters (AI SDK, AG-UI).',
      registers,
    }),
    framesSent: new Counter({
      name: 'agentgate_frames_sent_total',
      help: 'Frames written to WebSocket clients.',
      registers,
    }),
    clientErrors: new Counter({
      name: 'agentgate_client_errors_total',
      help: "Errors sent to clients (error frames, and the HTTP adapters' refusals and stream errors), by protocol code.",
      labelNames: ['code'],
      registers,
    }),
    turns: new Counter({
      name: 'agentgate_turns_total',
      help: 'Turns ended by this process, by stop reason.',
      labelNames: ['stop_reason'],
      registers,
    }),
    turnSeconds: new Histogram({
      name: 'agentgate_turn_duration_seconds',
      help: 'Turn duration, from job start to turn-end.',
      buckets: [0.5, 1, 2, 5, 10, 20, 40, 80],
      registers,
    }),
    firstTokenSeconds: new Histogram({
      name: 'agentgate_time_to_first_token_seconds',
      help: 'From job start to the first token of a turn.',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    }),
    modelTokens: new Counter({
      name: 'agentgate_model_tokens_total',
      help: 'Tokens of model calls in turns this process ran, by model, user and kind (input, output, cache_read, cache_write; input excludes the cache).',
      labelNames: ['model', 'user', 'kind'],
      registers,
    }),
    modelCostUsd: new Counter({
      name: 'agentgate_model_cost_usd_total',
      help: 'What model calls in turns this process ran cost in USD (list or MODEL_PRICES_FILE prices), by model and user; models without a price are not counted.',
      labelNames: ['model', 'user'],
      registers,
    }),
    quotaWaitSeconds: new Histogram({
      name: 'agentgate_bedrock_quota_wait_seconds',
      help: 'How long model calls waited for a slot under BEDROCK_MAX_CONCURRENCY, by model (0 for calls that did not wait).',
      labelNames: ['model'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    }),
    quotaThrottled: new Counter({
      name: 'agentgate_bedrock_quota_throttled_total',
      help: 'Calls Bedrock throttled after all retries under BEDROCK_MAX_CONCURRENCY, by model; each burst of them halves the bound of the model for a while.',
      labelNames: ['model'],
      registers,
    }),
    approvals: new Counter({
      name: 'agentgate_approvals_total',
      help: 'Requests for approval answered in turns this process ran, by decision.',
      labelNames: ['decision'],
      registers,
    }),
    approvalSeconds: new Histogram({
      name: 'agentgate_approval_decision_seconds',
      help: 'From a request for approval to its answer (a person, the timeout or a cancel).',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
      registers,
    }),
  };
}

/** What the approval of a tool call counts: its answers and how long each took. */
export type ApprovalMetrics = Pick<Metrics, 'approvals' | 'approvalSeconds'>;

export type Metrics = ReturnType<typeof createMetrics>;
