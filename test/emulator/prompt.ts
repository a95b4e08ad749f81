/**
 * A request as the model reads it: in Bedrock's order, tools, then system, then messages, block
 * by block, with the cache points that sit between blocks. Input tokens and prompt-cache keys
 * are both taken from this one reading, so they agree.
 */

import { createHash } from 'node:crypto';
import type { ConverseRequestBody, WireCachePoint, WireContentBlock } from './types.ts';

/** Roughly one token per four characters, at least one. */
export function estimateTokens(text: string): number {
  return tokensOf(text.length);
}

function tokensOf(characters: number): number {
  return Math.max(1, Math.ceil(characters / 4));
}

/** Where a cache point is, for error messages: `messages[3].content[1]` is message 3, index 1. */
export type CachePointPlace =
  | { section: 'tools' | 'system'; index: number }
  | { section: 'messages'; message: number; index: number };

export interface CachePointAt {
  /** How many prompt blocks come before it: the prefix it caches. */
  at: number;
  point: WireCachePoint;
  place: CachePointPlace;
  /** The element before it in the same array; undefined when it comes first. */
  previous: Record<string, unknown> | undefined;
}

/** A block as the cache tells blocks apart: where it is (`tool`, `system`, `3:user`) and all it holds. */
interface PromptBlock {
  scope: string;
  value: unknown;
}

/** The elements of a list the request should hold; the request's other checks refuse non-lists. */
function list<T>(value: T[] | undefined): T[] {
  return Array.isArray(value) ? value : [];
}

function contentText(block: WireContentBlock): string {
  if (typeof block.text === 'string') return block.text;
  if (block.toolUse) return JSON.stringify(block.toolUse.input ?? {});
  if (block.toolResult) {
    return (block.toolResult.content ?? [])
      .map((item) => item.text ?? JSON.stringify(item.json ?? ''))
      .join('\n');
  }
  if (block.guardContent) return block.guardContent.text?.text ?? '';
  return block.reasoningContent?.reasoningText?.text ?? '';
}

export class Prompt {
  readonly cachePoints: CachePointAt[] = [];
  readonly #blocks: PromptBlock[] = [];
  /** #ends[k]: characters of the first k blocks joined by newlines. */
  readonly #ends: number[] = [0];
  #keys: string[] | undefined;

  constructor(body: ConverseRequestBody) {
    const tools = list(body.toolConfig?.tools);
    for (const [index, tool] of tools.entries()) {
      if (tool.cachePoint) this.#point(tool.cachePoint, { section: 'tools', index }, tools);
      else this.#add('tool', tool, JSON.stringify(tool.toolSpec ?? tool));
    }
    const system = list(body.system);
    for (const [index, block] of system.entries()) {
      if (block.cachePoint) this.#point(block.cachePoint, { section: 'system', index }, system);
      else this.#add('system', block, block.text ?? '');
    }
    for (const [message, { role, content }] of list(body.messages).entries()) {
      const blocks = list(content);
      for (const [index, block] of blocks.entries()) {
        if (block.cachePoint) {
          this.#point(block.cachePoint, { section: 'messages', message, index }, blocks);
        } else {
          this.#add(`${message}:${role}`, block, contentText(block));
        }
      }
    }
  }

  get size(): number {
    return this.#blocks.length;
  }

  /** Tokens of the first `count` blocks (default all); none for none. */
  tokens(count = this.size): number {
    return count === 0 ? 0 : tokensOf(this.#ends[count] ?? 0);
  }

  /** A hash of the first `count` blocks: equal prefixes, equal keys. Made on first use. */
  key(count: number): string {
    if (!this.#keys) {
      let hash = '';
      this.#keys = [hash];
      for (const { scope, value } of this.#blocks) {
        hash = createHash('sha256')
          .update(`${hash}\n${scope}\n${JSON.stringify(value)}`)
          .digest('base64url');
        this.#keys.push(hash);
      }
    }
    return this.#keys[count] ?? '';
  }

  /** `text` is what the block costs in tokens. */
  #add(scope: string, value: unknown, text: string): void {
    this.#blocks.push({ scope, value });
    const before = this.#ends.at(-1) ?? 0;
    this.#ends.push(before + (this.#blocks.length > 1 ? 1 : 0) + text.length);
  }

  #point(point: WireCachePoint, place: CachePointPlace, siblings: readonly object[]): void {
    const previous = siblings[place.index - 1] as Record<string, unknown> | undefined;
    this.cachePoints.push({ at: this.#blocks.length, point, place, previous });
  }
}
