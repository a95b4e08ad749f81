/**
 * Turns a scripted reply into what goes on the wire: the Converse JSON body or the sequence of
 * ConverseStream events, with tool-use ids, reasoning signatures, stop reason and token usage
 * (prompt-cache reads and writes included) filled in, cut short where a guardrail steps in.
 */

import { randomBytes } from 'node:crypto';
import type { StreamEvent } from './event-stream.ts';
import {
  blocksInput,
  DEFAULT_BLOCKED_MESSAGE,
  guardrailTrace,
  type RequestGuardrail,
} from './guardrails.ts';
import { estimateTokens } from './prompt.ts';
import type { CacheUsage } from './prompt-cache.ts';
import type {
  Block,
  MessageReply,
  RedactedReasoningBlock,
  StopReason,
  TextBlock,
  ToolUseBlock,
} from './types.ts';

const DEFAULT_CHUNK_CHARS = 4;

/** A block whose tool-use id and reasoning signature are settled. */
type PlannedBlock =
  | TextBlock
  | RedactedReasoningBlock
  | { reasoning: string; signature: string | undefined }
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } };

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** What the emulator knows of the request a reply answers. */
export interface PlanContext {
  /** Tokens of the whole prompt. */
  promptTokens: number;
  /** How the prompt cache served the request; undefined when it had no cache point. */
  cache: CacheUsage | undefined;
  /** Signs the reply's reasoning. */
  sign: (text: string) => string;
  /** The guardrail the request names. */
  guardrail: RequestGuardrail | undefined;
}

/** A guardrail blocking the reply: where, with what message, and the trace to send. */
interface PlannedIntervention {
  afterEvents: number;
  message: string;
  trace: Record<string, unknown> | undefined;
}

interface ReplyPlan {
  blocks: PlannedBlock[];
  stopReason: StopReason;
  usage: Usage;
  chunkChars: number;
  chunks: string[] | undefined;
  intervention: PlannedIntervention | undefined;
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
  if (reply.guardrail && (reply.failAfterEvents || reply.hangAfterEvents !== undefined)) {
    throw new TypeError(
      'A guardrail intervention cannot be combined with failAfterEvents or hangAfterEvents.',
    );
  }
  if (reply.chunks === undefined) return;
  const first = reply.blocks.find(isText);
  if (!first) throw new TypeError('chunks were given but the reply has no text block.');
  if (reply.chunks.join('') !== first.text) {
    throw new TypeError(`chunks join to ${JSON.stringify(reply.chunks.join(''))}, not the text.`);
  }
}

function blockText(block: PlannedBlock): string {
  if ('text' in block) return block.text;
  if ('reasoning' in block) return block.reasoning;
  if ('toolUse' in block) return JSON.stringify(block.toolUse.input);
  return '';
}

function planBlock(block: Block, sign: (text: string) => string): PlannedBlock {
  if (isToolUse(block)) {
    return { toolUse: { ...block.toolUse, toolUseId: block.toolUse.toolUseId ?? newToolUseId() } };
  }
  if ('reasoning' in block) {
    const signature =
      block.signature === null ? undefined : (block.signature ?? sign(block.reasoning));
    return { reasoning: block.reasoning, signature };
  }
  return block;
}

function planUsage(reply: MessageReply, context: PlanContext, generated: string): Usage {
  const given = reply.usage;
  const cacheRead = given?.cacheReadInputTokens ?? context.cache?.cacheReadInputTokens;
  const cacheWrite = given?.cacheWriteInputTokens ?? context.cache?.cacheWriteInputTokens;
  const cached = (cacheRead ?? 0) + (cacheWrite ?? 0);
  const inputTokens = given?.inputTokens ?? Math.max(0, context.promptTokens - cached);
  // A guardrail that blocks the prompt stops the model before it writes anything.
  const blockedEarly = reply.guardrail !== undefined && blocksInput(reply.guardrail);
  const outputTokens = given?.outputTokens ?? (blockedEarly ? 0 : estimateTokens(generated));
  const usage: Usage = {
    inputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens + cached,
  };
  if (cacheRead !== undefined || cacheWrite !== undefined) {
    usage.cacheReadInputTokens = cacheRead ?? 0;
    usage.cacheWriteInputTokens = cacheWrite ?? 0;
  }
  return usage;
}

function planIntervention(
  reply: MessageReply,
  context: PlanContext,
  blocks: PlannedBlock[],
): PlannedIntervention | undefined {
  const intervention = reply.guardrail;
  if (!intervention) return undefined;
  const { guardrail } = context;
  if (!guardrail) {
    throw new Error(
      'The reply asks for a guardrail intervention, but the request has no guardrailConfig.',
    );
  }
  const withheld = blocks.flatMap((block) => ('text' in block ? [block.text] : [])).join('');
  return {
    afterEvents: intervention.afterEvents ?? 0,
    message: intervention.blockedMessage ?? DEFAULT_BLOCKED_MESSAGE,
    trace: guardrail.trace ? guardrailTrace(guardrail, intervention, withheld) : undefined,
  };
}

export function planReply(reply: MessageReply, context: PlanContext): ReplyPlan {
  const blocks = reply.blocks.map((block) => planBlock(block, context.sign));
  const intervention = planIntervention(reply, context, blocks);
  const defaultStop = reply.blocks.some(isToolUse) ? 'tool_use' : 'end_turn';
  return {
    blocks,
    stopReason: intervention ? 'guardrail_intervened' : (reply.stopReason ?? defaultStop),
    usage: planUsage(reply, context, blocks.map(blockText).join('')),
    chunkChars: reply.chunkChars ?? DEFAULT_CHUNK_CHARS,
    chunks: reply.chunks,
    intervention,
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

function redactedBase64(block: RedactedReasoningBlock): string {
  return Buffer.from(block.redactedReasoning).toString('base64');
}

function converseContent(block: PlannedBlock): Record<string, unknown> {
  if ('text' in block) return { text: block.text };
  if ('toolUse' in block) return { toolUse: block.toolUse };
  if ('redactedReasoning' in block) {
    return { reasoningContent: { redactedContent: redactedBase64(block) } };
  }
  const reasoningText: Record<string, string> = { text: block.reasoning };
  if (block.signature !== undefined) reasoningText.signature = block.signature;
  return { reasoningContent: { reasoningText } };
}

/** The Converse response body; a guardrail's blocked message replaces the whole answer. */
export function converseBody(plan: ReplyPlan, latencyMs: number): Record<string, unknown> {
  const { intervention } = plan;
  const content = intervention
    ? [{ text: intervention.message }]
    : plan.blocks.map(converseContent);
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: plan.stopReason,
    usage: plan.usage,
    metrics: { latencyMs },
    ...(intervention?.trace && { trace: { guardrail: intervention.trace } }),
  };
}

/** `messageStart` and the content block events of every block. */
function contentEvents(plan: ReplyPlan): StreamEvent[] {
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
    } else if ('redactedReasoning' in block) {
      delta({ reasoningContent: { redactedContent: redactedBase64(block) } });
    } else {
      for (const text of splitText(block.reasoning, plan.chunkChars)) {
        delta({ reasoningContent: { text } });
      }
      if (block.signature !== undefined) {
        delta({ reasoningContent: { signature: block.signature } });
      }
    }
    events.push({ type: 'contentBlockStop', payload: { contentBlockIndex } });
  });
  return events;
}

/**
 * The first `afterEvents` events (at least `messageStart`), the block they leave open closed,
 * then the blocked message as a text block of its own.
 */
function blockedEvents(events: StreamEvent[], intervention: PlannedIntervention): StreamEvent[] {
  const kept = events.slice(0, Math.max(1, intervention.afterEvents));
  let open: number | undefined;
  let next = 0;
  for (const { type, payload } of kept) {
    const index = payload.contentBlockIndex as number | undefined;
    if (index === undefined) continue;
    open = type === 'contentBlockStop' ? undefined : index;
    next = index + 1;
  }
  if (open !== undefined) {
    kept.push({ type: 'contentBlockStop', payload: { contentBlockIndex: open } });
  }
  kept.push(
    {
      type: 'contentBlockDelta',
      payload: { contentBlockIndex: next, delta: { text: intervention.message } },
    },
    { type: 'contentBlockStop', payload: { contentBlockIndex: next } },
  );
  return kept;
}

/** The ConverseStream events, from `messageStart` to `metadata`. */
export function streamEvents(plan: ReplyPlan, latencyMs: number): StreamEvent[] {
  const { intervention } = plan;
  const events = intervention
    ? blockedEvents(contentEvents(plan), intervention)
    : contentEvents(plan);
  events.push({ type: 'messageStop', payload: { stopReason: plan.stopReason } });
  events.push({
    type: 'metadata',
    payload: {
      usage: plan.usage,
      metrics: { latencyMs },
      ...(intervention?.trace && { trace: { guardrail: intervention.trace } }),
    },
  });
  return events;
}
