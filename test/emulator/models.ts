/**
 * What the emulator knows of a model from its id: whose rules and error wording apply (Anthropic
 * or Amazon), whether it takes prompt-cache points and from how many tokens a prefix is cached,
 * and whether it has extended thinking. Ids come as Bedrock takes them: plain model ids,
 * cross-region inference profile ids (`us.anthropic…`), and foundation-model or inference-profile
 * ARNs. An application inference profile hides its model, so it is taken to have everything.
 */

export interface ModelTraits {
  vendor: 'anthropic' | 'amazon' | 'other';
  /** Undefined when cache points are refused. */
  caching: { minTokens: number } | undefined;
  thinking: boolean;
  /** Whether `toolConfig.tools` may hold a cache point (Nova's may not). */
  toolCachePoints: boolean;
}

const ARN = /^arn:aws[a-z-]*:bedrock:[^:]*:[^:]*:([a-z-]+)\/(.+)$/;
const GEOGRAPHY = /^(us|us-gov|eu|apac|jp|au|ca|global)\./;

function claude(minTokens: number | undefined, thinking: boolean): ModelTraits {
  const caching = minTokens === undefined ? undefined : { minTokens };
  return { vendor: 'anthropic', caching, thinking, toolCachePoints: true };
}

const NOVA: ModelTraits = {
  vendor: 'amazon',
  caching: { minTokens: 1_000 },
  thinking: false,
  toolCachePoints: false,
};

/** First match wins: Opus 4.5 before Opus 4. */
const KNOWN: [RegExp, ModelTraits][] = [
  [/^anthropic\.claude-3-7-sonnet/, claude(1_024, true)],
  [/^anthropic\.claude-3-5-haiku/, claude(2_048, false)],
  [/^anthropic\.claude-sonnet-4/, claude(1_024, true)],
  [/^anthropic\.claude-opus-4-5/, claude(4_096, true)],
  [/^anthropic\.claude-opus-4/, claude(1_024, true)],
  [/^anthropic\.claude-haiku-4-5/, claude(4_096, true)],
  [/^amazon\.nova-(micro|lite|pro|premier)-/, NOVA],
];

/** An application inference profile's model is not in its id: assume the most capable. */
const HIDDEN = claude(1_024, true);

/** `us.anthropic.claude-…`, or an ARN of a model or profile → `anthropic.claude-…`. */
function baseModelId(modelId: string): string | undefined {
  const arn = ARN.exec(modelId);
  if (arn?.[1] === 'application-inference-profile') return undefined;
  return (arn?.[2] ?? modelId).replace(GEOGRAPHY, '');
}

export function modelTraits(modelId: string): ModelTraits {
  const base = baseModelId(modelId);
  if (base === undefined) return HIDDEN;
  const known = KNOWN.find(([pattern]) => pattern.test(base));
  if (known) return known[1];
  const vendor = base.startsWith('anthropic.')
    ? 'anthropic'
    : base.startsWith('amazon.')
      ? 'amazon'
      : 'other';
  return { vendor, caching: undefined, thinking: false, toolCachePoints: false };
}
