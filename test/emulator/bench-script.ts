/**
 * The benchmark's model (`npm run bench`): every turn is one tool round trip, then a streamed
 * answer of a fixed shape. The first call of a turn asks for `calculator` with `6*7`; the call
 * that carries its result streams `chunks` text deltas of `chunkChars` characters, `delayMs`
 * apart, after `firstChunkMs`. The answer's text is a function of the user's message only
 * ({@link benchText}), so a load generator knows every turn's text in advance and can hold
 * what it received to it, character for character.
 */

import type { ConverseRequestBody, MessageReply, WireContentBlock, WireMessage } from './types.ts';

/** The shape of every benchmark turn. */
export interface BenchShape {
  /** Text deltas of the answer. */
  readonly chunks: number;
  /** Characters (UTF-16 code units) per delta. */
  readonly chunkChars: number;
  /** Pause between stream events, in ms. */
  readonly delayMs: number;
  /** Pause before a response's first event (each model call's time to first token), in ms. */
  readonly firstChunkMs: number;
}

/** The tool call every benchmark turn makes, and the result it must come back with. */
export const BENCH_TOOL = {
  name: 'calculator',
  input: { expression: '6*7' },
  result: '42',
} as const;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** 32-bit FNV-1a: a cheap, stable hash of the user's message. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The answer to `key` (the user's message): `chunks` pieces of `chunkChars` characters.
 * Neighbouring pieces differ, so a piece lost, doubled or out of order changes the text.
 */
export function benchText(key: string, chunks: number, chunkChars: number): string {
  const seed = fnv1a(key);
  let text = '';
  for (let i = 0; i < chunks; i++) {
    let value = (seed + Math.imul(i + 1, 0x9e3779b1)) >>> 0;
    for (let c = 0; c < chunkChars; c++) {
      text += ALPHABET[value % ALPHABET.length];
      value = Math.floor(value / ALPHABET.length) || (seed ^ (i * 31 + c)) >>> 0;
    }
  }
  return text;
}

function textOf(message: WireMessage | undefined): string {
  return (message?.content ?? [])
    .flatMap((block) => (typeof block.text === 'string' ? [block.text] : []))
    .join('');
}

function resultText(block: WireContentBlock): string {
  return (block.toolResult?.content ?? [])
    .map((item) => item.text ?? JSON.stringify(item.json))
    .join('');
}

/** The benchmark's reply to a request (the emulator's `script`). */
export function benchReply(body: ConverseRequestBody, shape: BenchShape): MessageReply {
  const paced = { delayMs: shape.delayMs, firstEventDelayMs: shape.firstChunkMs };
  const messages = body.messages ?? [];
  const last = messages.at(-1);
  const results = (last?.content ?? []).filter((block) => block.toolResult);
  if (last?.role !== 'user' || results.length === 0) {
    return {
      blocks: [{ toolUse: { name: BENCH_TOOL.name, input: { ...BENCH_TOOL.input } } }],
      ...paced,
    };
  }
  // A wrong tool result gives a wrong answer, which the load generator's text check catches.
  const wrong = results.map(resultText).find((text) => text.trim() !== BENCH_TOOL.result);
  if (wrong !== undefined) {
    return { blocks: [{ text: `The tool returned ${JSON.stringify(wrong)}.` }], ...paced };
  }
  const key = textOf(messages.findLast((m) => m.role === 'user' && textOf(m) !== ''));
  return {
    blocks: [{ text: benchText(key, shape.chunks, shape.chunkChars) }],
    chunkChars: shape.chunkChars,
    ...paced,
  };
}
