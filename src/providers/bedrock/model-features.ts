/**
 * What Bedrock offers per foundation model beyond the basics: prompt caching (and where cache
 * points may go) and extended thinking. Looked up by the base model ID an entry names, so a
 * cross-region profile or an ARN of a model has the model's features. An application
 * inference profile names no model: it gets none (nothing is sent that Bedrock could refuse).
 */

export interface ModelFeatures {
  /** Prompt caching (ChatBedrockConverse leaves Nova's tools without a cache point). */
  readonly promptCache: boolean;
  /** Extended thinking (`thinking` in additionalModelRequestFields). */
  readonly reasoning: boolean;
  /** The most output tokens a call may ask for, thinking included (models with reasoning). */
  readonly maxOutputTokens?: number;
}

/** Bedrock accepts at most this many cache points in one request. */
export const MAX_CACHE_POINTS = 4;

const NONE: ModelFeatures = { promptCache: false, reasoning: false };
const thinking = (maxOutputTokens: number): ModelFeatures => ({
  promptCache: true,
  reasoning: true,
  maxOutputTokens,
});

/**
 * By model family, first match wins. Sources: the Bedrock user guide's "Supported models,
 * Regions, and limits" of prompt caching and of extended thinking, and the models' output
 * limits (as of 2025-11).
 */
const FEATURES: readonly [RegExp, ModelFeatures][] = [
  [/^anthropic\.claude-3-7-sonnet/, thinking(64_000)],
  [/^anthropic\.claude-opus-4-(1-)?2025/, thinking(32_000)],
  [/^anthropic\.claude-opus-4-5/, thinking(64_000)],
  [/^anthropic\.claude-(sonnet|haiku)-4/, thinking(64_000)],
  // Later Claude 4 Opus models: at least Opus 4's limit.
  [/^anthropic\.claude-opus-4/, thinking(32_000)],
  [/^anthropic\.claude-3-5-haiku/, { promptCache: true, reasoning: false }],
  [/^amazon\.nova-(micro|lite|pro|premier)/, { promptCache: true, reasoning: false }],
];

/** Geography prefixes of Bedrock's system-defined (cross-region) inference profiles. */
export const PROFILE_GEOS: Readonly<Record<string, string>> = {
  us: 'US',
  eu: 'EU',
  apac: 'APAC',
  'us-gov': 'US GovCloud',
  ca: 'Canada',
  jp: 'Japan',
  au: 'Australia',
  global: 'global',
};

/**
 * The foundation model an entry names: `anthropic.claude-…` for the plain ID, a
 * cross-region profile ID (`us.anthropic.claude-…`) and their ARNs; undefined for an
 * application inference profile, whose model is not in its name.
 */
export function baseModelId(entry: string): string | undefined {
  const arn = /^arn:[^:]+:bedrock:[^:]*:[^:]*:([a-z-]+)\/(.+)$/.exec(entry);
  if (arn && arn[1] === 'application-inference-profile') return undefined;
  const id = arn ? arn[2]! : entry;
  const [prefix, ...rest] = id.split('.');
  return PROFILE_GEOS[prefix!] !== undefined && rest.length >= 2 ? rest.join('.') : id;
}

export function featuresOf(entry: string): ModelFeatures {
  const base = baseModelId(entry);
  if (base === undefined) return NONE;
  return FEATURES.find(([family]) => family.test(base))?.[1] ?? NONE;
}
