import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { roundUsd, type TokenCounts } from '../../agent/chat-models.ts';
import { ConfigError } from '../../config/config.ts';
import { baseModelId } from './model-features.ts';

/** USD per million tokens of each kind. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
}

/** When the built-in list prices were taken from the Amazon Bedrock pricing page. */
export const BUILT_IN_PRICES_DATE = '2025-11-01';

/** A model without prompt caching: it never reports cache tokens, so their price is moot. */
const flat = (input: number, output: number): ModelPrice => ({
  input,
  output,
  cacheRead: input,
  cacheWrite: input,
});
const cached = (input: number, output: number, cacheRead: number, cacheWrite: number) => ({
  input,
  output,
  cacheRead,
  cacheWrite,
});

/**
 * On-demand list prices in us-east-1, standard tier, USD per million tokens, as of
 * {@link BUILT_IN_PRICES_DATE}. Prices change and differ by Region: MODEL_PRICES_FILE
 * overrides any of them and prices any other model.
 */
const BUILT_IN: Readonly<Record<string, ModelPrice>> = {
  'anthropic.claude-3-haiku-20240307-v1:0': flat(0.25, 1.25),
  'anthropic.claude-3-sonnet-20240229-v1:0': flat(3, 15),
  'anthropic.claude-3-opus-20240229-v1:0': flat(15, 75),
  'anthropic.claude-3-5-sonnet-20240620-v1:0': flat(3, 15),
  'anthropic.claude-3-5-sonnet-20241022-v2:0': flat(3, 15),
  'anthropic.claude-3-5-haiku-20241022-v1:0': cached(0.8, 4, 0.08, 1),
  'anthropic.claude-3-7-sonnet-20250219-v1:0': cached(3, 15, 0.3, 3.75),
  'anthropic.claude-sonnet-4-20250514-v1:0': cached(3, 15, 0.3, 3.75),
  'anthropic.claude-sonnet-4-5-20250929-v1:0': cached(3, 15, 0.3, 3.75),
  'anthropic.claude-haiku-4-5-20251001-v1:0': cached(1, 5, 0.1, 1.25),
  'anthropic.claude-opus-4-20250514-v1:0': cached(15, 75, 1.5, 18.75),
  'anthropic.claude-opus-4-1-20250805-v1:0': cached(15, 75, 1.5, 18.75),
  'anthropic.claude-opus-4-5-20251101-v1:0': cached(5, 25, 0.5, 6.25),
  'amazon.nova-micro-v1:0': cached(0.035, 0.14, 0.00875, 0),
  'amazon.nova-lite-v1:0': cached(0.06, 0.24, 0.015, 0),
  'amazon.nova-pro-v1:0': cached(0.8, 3.2, 0.2, 0),
  'amazon.nova-premier-v1:0': cached(2.5, 12.5, 0.625, 0),
  'meta.llama3-8b-instruct-v1:0': flat(0.3, 0.6),
  'meta.llama3-70b-instruct-v1:0': flat(2.65, 3.5),
  'meta.llama3-1-8b-instruct-v1:0': flat(0.22, 0.22),
  'meta.llama3-1-70b-instruct-v1:0': flat(0.72, 0.72),
  'meta.llama3-1-405b-instruct-v1:0': flat(2.4, 2.4),
  'meta.llama3-2-1b-instruct-v1:0': flat(0.1, 0.1),
  'meta.llama3-2-3b-instruct-v1:0': flat(0.15, 0.15),
  'meta.llama3-2-11b-instruct-v1:0': flat(0.16, 0.16),
  'meta.llama3-2-90b-instruct-v1:0': flat(0.72, 0.72),
  'meta.llama3-3-70b-instruct-v1:0': flat(0.72, 0.72),
  'meta.llama4-scout-17b-instruct-v1:0': flat(0.17, 0.66),
  'meta.llama4-maverick-17b-instruct-v1:0': flat(0.24, 0.97),
};

const usd = z.number().finite().min(0);
const PricesFile = z.record(
  z.string().min(1),
  z.strictObject({ input: usd, output: usd, cacheRead: usd, cacheWrite: usd }),
);

/**
 * The price of each model: MODEL_PRICES_FILE's entry for the model as configured (an ARN, a
 * profile), then for its base model ID, then the built-in list price of that base model.
 */
export class ModelPrices {
  readonly #configured: Readonly<Record<string, ModelPrice>>;

  constructor(configured: Readonly<Record<string, ModelPrice>> = {}) {
    this.#configured = configured;
  }

  /** Reads MODEL_PRICES_FILE; a missing or bad file is a ConfigError naming every problem. */
  static fromFile(path: string | undefined): ModelPrices {
    if (path === undefined) return new ModelPrices();
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError([`MODEL_PRICES_FILE ${path}: ${(error as Error).message}`]);
    }
    const parsed = PricesFile.safeParse(raw);
    if (!parsed.success) {
      throw new ConfigError(
        parsed.error.issues.map((issue) => {
          const at = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
          return `MODEL_PRICES_FILE ${path}${at}: ${issue.message} (expected {"<model>": {"input", "output", "cacheRead", "cacheWrite"}} in USD per million tokens)`;
        }),
      );
    }
    return new ModelPrices(parsed.data);
  }

  priceOf(model: string): ModelPrice | undefined {
    const base = baseModelId(model);
    return (
      this.#configured[model] ??
      (base === undefined ? undefined : (this.#configured[base] ?? BUILT_IN[base]))
    );
  }

  /** What the tokens cost in USD, or undefined when the model has no known price. */
  costUsd(model: string, tokens: TokenCounts): number | undefined {
    const price = this.priceOf(model);
    if (!price) return undefined;
    const perMillion =
      tokens.inputTokens * price.input +
      tokens.outputTokens * price.output +
      tokens.cacheReadInputTokens * price.cacheRead +
      tokens.cacheWriteInputTokens * price.cacheWrite;
    return roundUsd(perMillion / 1e6);
  }
}
