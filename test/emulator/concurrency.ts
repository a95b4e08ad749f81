/**
 * Requests in flight per model, from admission to the end or abort of their response, and the
 * on-demand concurrency quota Bedrock enforces per model: one request over it is throttled.
 */

/** The quota key that covers every model without a quota of its own. */
export const ANY_MODEL = '*';

export class ConcurrencyTracker {
  readonly #active = new Map<string, Set<object>>();
  readonly #peaks = new Map<string, number>();
  readonly #initialQuotas: Record<string, number>;
  #quotas: Map<string, number>;

  constructor(quotas: Record<string, number> = {}) {
    this.#initialQuotas = quotas;
    this.#quotas = new Map(Object.entries(quotas));
  }

  inFlight(modelId: string): number {
    return this.#active.get(modelId)?.size ?? 0;
  }

  peak(modelId: string): number {
    return this.#peaks.get(modelId) ?? 0;
  }

  /** `undefined` lifts the quota; {@link ANY_MODEL} sets the one for models without their own. */
  setQuota(modelId: string, max: number | undefined): void {
    if (max === undefined) this.#quotas.delete(modelId);
    else this.#quotas.set(modelId, max);
  }

  /** Counts `request` in, or returns false when the model's quota is used up. */
  admit(modelId: string, request: object): boolean {
    const active = this.#active.get(modelId) ?? new Set();
    const quota = this.#quotas.get(modelId) ?? this.#quotas.get(ANY_MODEL);
    if (quota !== undefined && active.size >= quota) return false;
    active.add(request);
    this.#active.set(modelId, active);
    this.#peaks.set(modelId, Math.max(this.peak(modelId), active.size));
    return true;
  }

  /** Counts `request` out; a request never admitted, or already out, changes nothing. */
  finish(modelId: string, request: object): void {
    this.#active.get(modelId)?.delete(request);
  }

  /** Peaks are cleared (requests still in flight stay counted); quotas go back to the start options'. */
  reset(): void {
    this.#peaks.clear();
    this.#quotas = new Map(Object.entries(this.#initialQuotas));
  }
}
