import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import { trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Counter, Histogram } from 'prom-client';
import type { CallQuota, QuotaLease } from '../../quota/call-quota.ts';

/** A configured model and the Region its calls go to. */
export interface ModelPlace {
  readonly model: string;
  readonly region: string;
}

/** What the gate counts: the wait of every call, and the calls Bedrock throttled anyway. */
export interface CallGateMetrics {
  readonly quotaWaitSeconds: Histogram<'model'>;
  readonly quotaThrottled: Counter<'model'>;
}

/**
 * BEDROCK_MAX_CONCURRENCY at the door of every model call: a call takes a slot of its model
 * (waiting its turn, cluster-wide with Redis) and gives it back when it is over. The wait is
 * observed in the metrics and, when there was one, as an event on the turn's span. A call
 * Bedrock throttled all the same lowers its model's bound for a while.
 */
export class CallGate {
  readonly #quota: CallQuota;
  readonly #log: Logger;
  readonly #metrics: CallGateMetrics | undefined;

  constructor(quota: CallQuota, log: Logger, metrics?: CallGateMetrics) {
    this.#quota = quota;
    this.#log = log;
    this.#metrics = metrics;
  }

  /** A slot for a call of `model` in `region` (Bedrock's quotas are per model and Region). */
  async enter({ model, region }: ModelPlace, signal: AbortSignal | undefined): Promise<QuotaLease> {
    const lease = await this.#quota.acquire(`${region}/${model}`, signal);
    this.#metrics?.quotaWaitSeconds.observe({ model }, lease.waitedMs / 1000);
    if (lease.waitedMs > 0) {
      turnSpan()?.addEvent('bedrock.quota.wait', {
        'gen_ai.request.model': model,
        'agentgate.quota_wait_ms': lease.waitedMs,
      });
    }
    return lease;
  }

  /** Bedrock throttled a call of `model` after the SDK's retries: halve its bound a while. */
  throttled({ model, region }: ModelPlace): void {
    this.#quota.throttled(`${region}/${model}`).then(
      (bound) => {
        this.#metrics?.quotaThrottled.inc({ model });
        this.#log.warn(
          { model, bound },
          'Bedrock throttled a call after its retries; the concurrency bound is now %d',
          bound,
        );
      },
      (error: unknown) => this.#log.warn({ err: error, model }, 'could not lower the bound'),
    );
  }
}

/** The span of the turn the current call belongs to (graph.ts's `traceContext`), if any. */
function turnSpan() {
  const config = AsyncLocalStorageProviderSingleton.getRunnableConfig() as
    | { configurable?: { traceContext?: Parameters<typeof trace.getSpan>[0] } }
    | undefined;
  const context = config?.configurable?.traceContext;
  return context ? trace.getSpan(context) : undefined;
}
