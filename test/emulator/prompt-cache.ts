/**
 * Bedrock's prompt caching: the checks on `cachePoint` blocks, and a per-model cache of prompt
 * prefixes that splits a request's input tokens into cache reads, cache writes and the rest.
 *
 * A read is the longest cached prefix among the cache points and, as Anthropic looks back, the
 * 20 block boundaries before each. Every cache point past the read whose prefix has the model's
 * minimum of tokens is written; the write counts the tokens from the read to the longest one.
 * An entry lives 5 minutes (or its `ttl`), counted again from each read.
 */

import type { ModelTraits } from './models.ts';
import type { CachePointAt, CachePointPlace, Prompt } from './prompt.ts';

const MAX_CACHE_POINTS = 4;
const LOOKBACK_BLOCKS = 20;
const TTL_MS = { '5m': 5 * 60_000, '1h': 60 * 60_000 } as const;

const UNSUPPORTED =
  'You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.';
const NOTHING_TO_CACHE = 'There is nothing available to cache.';
const AFTER_REASONING =
  'Cache point cannot be inserted after reasoning block. Please remove the invalid cache point and try again.';

export interface CacheUsage {
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
}

/** The member path of a cache point field in a validation message (1-based, as AWS counts). */
function memberPath(place: CachePointPlace, field: string): string {
  const at =
    place.section === 'messages'
      ? `messages.${place.message + 1}.member.content.${place.index + 1}`
      : `${place.section === 'tools' ? 'toolConfig.tools' : 'system'}.${place.index + 1}`;
  return `${at}.member.cachePoint.${field}`;
}

function enumError(value: unknown, path: string, allowed: string[]): string {
  const constraint =
    value === undefined
      ? 'Member must not be null'
      : `Member must satisfy enum value set: [${allowed.join(', ')}]`;
  const shown = value === undefined ? 'null' : `'${String(value)}'`;
  return `1 validation error detected: Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`;
}

function shapeError({ point, place }: CachePointAt): string | undefined {
  if (point.type !== 'default')
    return enumError(point.type, memberPath(place, 'type'), ['default']);
  if (point.ttl !== undefined && !(typeof point.ttl === 'string' && point.ttl in TTL_MS)) {
    return enumError(point.ttl, memberPath(place, 'ttl'), Object.keys(TTL_MS));
  }
  return undefined;
}

function tooManyError(found: number, traits: ModelTraits): string {
  return traits.vendor === 'anthropic'
    ? `The model returned the following errors: A maximum of ${MAX_CACHE_POINTS} blocks with cache_control may be provided. Found ${found}.`
    : `The request has ${found} cache points, more than the maximum of ${MAX_CACHE_POINTS}. Remove cache points and try again.`;
}

/** The ValidationException message for the request's cache points, if Bedrock would refuse them. */
export function cachePointError(prompt: Prompt, traits: ModelTraits): string | undefined {
  const points = prompt.cachePoints;
  if (points.length === 0) return undefined;
  for (const at of points) {
    const invalid = shapeError(at);
    if (invalid) return invalid;
  }
  if (!traits.caching) return UNSUPPORTED;
  const tool = points.find((at) => at.place.section === 'tools');
  if (tool && !traits.toolCachePoints) {
    return `Malformed input request: #/toolConfig/tools/${tool.place.index}: extraneous key [cachePoint] is not permitted, please reformat your input and try again.`;
  }
  if (points.length > MAX_CACHE_POINTS) return tooManyError(points.length, traits);
  for (const { place, previous } of points) {
    if (place.section !== 'tools' && previous === undefined) return NOTHING_TO_CACHE;
    if (previous && 'reasoningContent' in previous) return AFTER_REASONING;
  }
  return undefined;
}

interface Entry {
  expiresAt: number;
  ttlMs: number;
}

export class PromptCache {
  /** `modelId \n prefix key` → entry. */
  readonly #entries = new Map<string, Entry>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /**
   * Reads and writes the request's prefixes; undefined when it has no cache point (its usage
   * then carries no cache fields). `prompt` must have passed {@link cachePointError}.
   */
  account(modelId: string, prompt: Prompt, minTokens: number): CacheUsage | undefined {
    if (prompt.cachePoints.length === 0) return undefined;
    const now = this.#now();
    this.#prune(now);
    const key = (count: number) => `${modelId}\n${prompt.key(count)}`;
    let read = 0;
    for (const { at } of prompt.cachePoints) {
      for (let count = at; count >= Math.max(1, at - LOOKBACK_BLOCKS) && count > read; count--) {
        if (this.#entries.has(key(count))) read = count;
      }
    }
    const hit = this.#entries.get(key(read));
    if (hit) hit.expiresAt = now + hit.ttlMs;
    let written = 0;
    for (const { at, point } of prompt.cachePoints) {
      if (at <= read || prompt.tokens(at) < minTokens) continue;
      const ttlMs = TTL_MS[(point.ttl as keyof typeof TTL_MS | undefined) ?? '5m'];
      this.#entries.set(key(at), { expiresAt: now + ttlMs, ttlMs });
      written = Math.max(written, at);
    }
    const cacheReadInputTokens = prompt.tokens(read);
    const cacheWriteInputTokens = written > 0 ? prompt.tokens(written) - cacheReadInputTokens : 0;
    return { cacheReadInputTokens, cacheWriteInputTokens };
  }

  clear(): void {
    this.#entries.clear();
  }

  #prune(now: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(key);
    }
  }
}
