import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { baseModelId, featuresOf } from '../../src/providers/bedrock/model-features.ts';
import { thinkingFor } from '../../src/providers/bedrock/models.ts';
import { ModelPrices } from '../../src/providers/bedrock/prices.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const tokens = (input: number, output: number, cacheRead = 0, cacheWrite = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadInputTokens: cacheRead,
  cacheWriteInputTokens: cacheWrite,
});

function pricesFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'prices-')), 'prices.json');
  writeFileSync(file, content);
  return file;
}

function problemsOf(file: string): readonly string[] {
  try {
    ModelPrices.fromFile(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('the file was accepted');
}

describe('base model of an entry', () => {
  it('is the model ID inside profiles and ARNs', () => {
    expect(baseModelId(HAIKU)).toBe(HAIKU);
    expect(baseModelId(`us.${HAIKU}`)).toBe(HAIKU);
    expect(baseModelId(`arn:aws:bedrock:eu-west-1::foundation-model/${HAIKU}`)).toBe(HAIKU);
    expect(
      baseModelId(`arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${HAIKU}`),
    ).toBe(HAIKU);
    expect(
      baseModelId('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123'),
    ).toBeUndefined();
  });

  it('has the features of its family', () => {
    expect(featuresOf('us.anthropic.claude-3-7-sonnet-20250219-v1:0')).toEqual({
      promptCache: true,
      reasoning: true,
      maxOutputTokens: 64_000,
    });
    expect(featuresOf('anthropic.claude-opus-4-1-20250805-v1:0').maxOutputTokens).toBe(32_000);
    expect(featuresOf('anthropic.claude-sonnet-4-20250514-v1:0').reasoning).toBe(true);
    expect(featuresOf(HAIKU)).toEqual({ promptCache: true, reasoning: false });
    expect(featuresOf('amazon.nova-pro-v1:0')).toEqual({ promptCache: true, reasoning: false });
    expect(featuresOf('anthropic.claude-3-5-sonnet-20241022-v2:0')).toEqual({
      promptCache: false,
      reasoning: false,
    });
    expect(
      featuresOf('arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc'),
    ).toEqual({ promptCache: false, reasoning: false });
  });

  it('keeps the thinking budget within the output limit, with room for the answer', () => {
    expect(thinkingFor(undefined, 64_000)).toBeUndefined();
    expect(thinkingFor(2048, 64_000)).toEqual({ budget: 2048, maxTokens: 2048 + 4096 });
    // Opus 4 writes at most 32,000 tokens: a larger budget gives way.
    expect(thinkingFor(40_000, 32_000)).toEqual({ budget: 32_000 - 4096, maxTokens: 32_000 });
  });
});

describe('model prices', () => {
  it('prices every kind of token from the built-in list', () => {
    const prices = new ModelPrices();
    // Claude 3.5 Haiku: $0.80 in, $4 out, $0.08 cache read, $1 cache write per million.
    expect(prices.costUsd(HAIKU, tokens(1_000_000, 0))).toBe(0.8);
    expect(prices.costUsd(`us.${HAIKU}`, tokens(1000, 100, 2000, 500))).toBe(
      (1000 * 0.8 + 100 * 4 + 2000 * 0.08 + 500 * 1) / 1e6,
    );
    expect(prices.costUsd('amazon.nova-micro-v1:0', tokens(0, 1_000_000))).toBe(0.14);
    expect(prices.costUsd('meta.llama3-3-70b-instruct-v1:0', tokens(500_000, 0))).toBe(0.36);
  });

  it('knows no price for a model it does not list', () => {
    const prices = new ModelPrices();
    expect(prices.costUsd('cohere.command-r-v1:0', tokens(10, 10))).toBeUndefined();
    const profile = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc';
    expect(prices.costUsd(profile, tokens(10, 10))).toBeUndefined();
  });

  it('takes a file that overrides by entry, then by base model', () => {
    const profile = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc';
    const prices = ModelPrices.fromFile(
      pricesFile(
        JSON.stringify({
          [profile]: { input: 1, output: 2, cacheRead: 0.1, cacheWrite: 1.25 },
          [HAIKU]: { input: 10, output: 20, cacheRead: 1, cacheWrite: 12.5 },
        }),
      ),
    );
    expect(prices.costUsd(profile, tokens(1_000_000, 1_000_000))).toBe(3);
    expect(prices.costUsd(`eu.${HAIKU}`, tokens(1_000_000, 0, 1_000_000))).toBe(11);
    // Models the file does not name keep the built-in price.
    expect(prices.costUsd('amazon.nova-micro-v1:0', tokens(0, 1_000_000))).toBe(0.14);
  });

  it('refuses a file that is missing, not JSON, or not prices, naming the problem', () => {
    expect(problemsOf('/nonexistent/prices.json')[0]).toMatch(
      /^MODEL_PRICES_FILE \/nonexistent\/prices\.json: ENOENT/,
    );
    expect(problemsOf(pricesFile('{"a": '))[0]).toMatch(/^MODEL_PRICES_FILE .*: .*JSON/);
    const problems = problemsOf(
      pricesFile(
        JSON.stringify({
          [HAIKU]: { input: 0.8, output: -4, cacheRead: 0.08 },
          other: { input: 1, output: 1, cacheRead: 1, cacheWrite: 1, extra: 1 },
        }),
      ),
    );
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(new RegExp(`at ${HAIKU.replaceAll('.', '\\.')}\\.output: .*>=0`));
    expect(problems[1]).toMatch(/\.cacheWrite: .*expected number/);
    expect(problems[2]).toMatch(/at other: .*extra/);
  });
});
