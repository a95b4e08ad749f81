/**
 * Turns a scripted reply into what goes on the wire: the Converse JSON body or the sequence of
 * ConverseStream events, with tool-use ids, stop reason and token usage filled in.
 */

import { randomBytes } from 'node:crypto';
import type { StreamEvent } from './event-stream.ts';
import type {
  Block,
  ConverseRequestBody,
  MessageReply,
  ReasoningBlock,
  StopReason,
  TextBlock,
  ToolUseBlock,
} from './types.ts';

const DEFAULT_CHUNK_CHARS = 4;

/** A tool-use block whose id is settled. */
type PlannedBlock =
  | TextBlock
  | ReasoningBlock
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

interface ReplyPlan {
  blocks: PlannedBlock[];
  stopReason: StopReason;
  usage: Usage;
  chunkChars: number;
  chunks: string[] | undefined;
}

function newToolUseId(): string {
  return `tooluse_${randomBytes(16).toString('base64url').slice(0, 22)}`;
}

function isToolUse(block: Block): block is ToolUseBlock {
  return 'toolUse' in block;
}

function isText(block: Block): block is TextBlock {
  return 'text' in block;
}

/** Throws when a reply cannot be played, so the test that enqueued it fails at once. */
export function checkReply(reply: MessageReply): void {
  if (!Array.isArray(reply.blocks)) throw new TypeError('A reply needs a blocks array.');
  if (reply.chunks === undefined) return;
  const first = reply.blocks.find(isText);
  if (!first) throw new TypeError('chunks were given but the reply has no text block.');
  if (reply.chunks.join('') !== first.text) {
    throw new TypeError(`chunks join to ${JSON.stringify(reply.chunks.join(''))}, not the text.`);
  }
}

/** Roughly one token per four characters, at least one. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** All the text a request carries: system prompt, text, tool inputs and tool results. */
function requestText(body: ConverseRequestBody | undefined): string {
  const parts: string[] = [];
  for (const system of body?.system ?? []) parts.push(system.text ?? '');
  for (const message of body?.messages ?? []) {
    for (const block of message.content ?? []) {
      if (typeof block.text === 'string') parts.push(block.text);
      if (block.toolUse) parts.push(JSON.stringify(block.toolUse.input ?? {}));
      for (const item of block.toolResult?.content ?? []) {
        parts.push(item.text ?? JSON.stringify(item.json ?? ''));
      }
    }
  }
  return parts.join('\n');
}

function blockText(block: PlannedBlock): string {
  if ('text' in block) return block.text;
  if ('reasoning' in block) return block.reasoning;
  return JSON.stringify(block.toolUse.input);
}

export function planReply(
  reply: MessageReply,
  request: ConverseRequestBody | undefined,
): ReplyPlan {
  const blocks: PlannedBlock[] = reply.blocks.map((block) =>
    isToolUse(block)
      ? { toolUse: { ...block.toolUse, toolUseId: block.toolUse.toolUseId ?? newToolUseId() } }
      : block,
  );
  const inputTokens = reply.usage?.inputTokens ?? estimateTokens(requestText(request));
  const outputTokens = reply.usage?.outputTokens ?? estimateTokens(blocks.map(blockText).join(''));
  return {
    blocks,
    stopReason: reply.stopReason ?? (reply.blocks.some(isToolUse) ? 'tool_use' : 'end_turn'),
    usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
    chunkChars: reply.chunkChars ?? DEFAULT_CHUNK_CHARS,
    chunks: reply.chunks,
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Splits text into pieces of `size` UTF-16 code units. A piece may end inside a grapheme cluster
 * (as Bedrock's deltas do) but never between the halves of a surrogate pair, which JSON cannot
 * carry apart. The empty string gives one empty piece.
 */
export function splitText(text: string, size: number): string[] {
  if (text.length === 0) return [''];
  const step = Math.max(1, Math.floor(size));
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(start + step, text.length);
    if (
      end < text.length &&
      isHighSurrogate(text.charCodeAt(end - 1)) &&
      isLowSurrogate(text.charCodeAt(end))
    ) {
      end = end - 1 > start ? end - 1 : end + 1;
    }
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

/** The Converse response body. */
export function converseBody(plan: ReplyPlan, latencyMs: number): Record<string, unknown> {
  const content = plan.blocks.map((block) => {
    if ('text' in block) return { text: block.text };
    if ('toolUse' in block) return { toolUse: block.toolUse };
    const reasoningText: Record<string, string> = { text: block.reasoning };
    if (block.signature !== undefined) reasoningText.signature = block.signature;
    return { reasoningContent: { reasoningText } };
  });
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: plan.stopReason,
    usage: plan.usage,
    metrics: { latencyMs },
  };
}

/** The ConverseStream events, from `messageStart` to `metadata`. */
export function streamEvents(plan: ReplyPlan, latencyMs: number): StreamEvent[] {
  const events: StreamEvent[] = [{ type: 'messageStart', payload: { role: 'assistant' } }];
  let firstText = true;
  plan.blocks.forEach((block, contentBlockIndex) => {
    const delta = (value: Record<string, unknown>) =>
      events.push({ type: 'contentBlockDelta', payload: { contentBlockIndex, delta: value } });
    if ('text' in block) {
      const pieces =
        firstText && plan.chunks ? plan.chunks : splitText(block.text, plan.chunkChars);
      firstText = false;
      for (const text of pieces) delta({ text });
    } else if ('toolUse' in block) {
      const { toolUseId, name, input } = block.toolUse;
      events.push({
        type: 'contentBlockStart',
        payload: { contentBlockIndex, start: { toolUse: { toolUseId, name } } },
      });
      for (const piece of splitText(JSON.stringify(input), plan.chunkChars)) {
        delta({ toolUse: { input: piece } });
      }
    } else {
      for (const text of splitText(block.reasoning, plan.chunkChars)) {
        delta({ reasoningContent: { text } });
      }
      if (block.signature !== undefined)
        delta({ reasoningContent: { signature: block.signature } });
    }
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex } });
  });
  events.push({ type: 'messageStop', payload: { stopReason: plan.stopReason } });
  events.push({ type: 'metadata', payload: { usage: plan.usage, metrics: { latencyMs } } });
  return events;
}
