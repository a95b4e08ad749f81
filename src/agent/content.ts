import type { AIMessage } from '@langchain/core/messages';

/** What a message's content holds for people: its text, and the model's reasoning apart. */
export interface ContentPieces {
  text: string;
  reasoning: string;
}

/** Text and reasoning of a message's content: a string, or blocks (text, reasoning, tool use). */
export function contentPieces(content: unknown): ContentPieces {
  if (typeof content === 'string') return { text: content, reasoning: '' };
  const pieces = { text: '', reasoning: '' };
  if (!Array.isArray(content)) return pieces;
  for (const block of content as Record<string, unknown>[]) {
    if (block.type === 'text' && typeof block.text === 'string') pieces.text += block.text;
    else if (block.type === 'reasoning_content') {
      const inner = block.reasoningText as { text?: unknown } | undefined;
      if (typeof inner?.text === 'string') pieces.reasoning += inner.text;
    } else if (block.type === 'reasoning' && typeof block.reasoning === 'string') {
      pieces.reasoning += block.reasoning;
    }
  }
  return pieces;
}

/**
 * A streamed message's content as the model sent it. When a message has blocks (reasoning,
 * say), LangChain's sum of its stream chunks holds one text block per text delta; the model
 * sent one. Adjacent text blocks are joined and empty ones dropped (Bedrock refuses a blank
 * text block); every other block, reasoning with its signature above all, stays as it is.
 */
export function joinedText(content: AIMessage['content']): AIMessage['content'] {
  if (!Array.isArray(content)) return content;
  const out: typeof content = [];
  for (const block of content) {
    const last = out.at(-1);
    if (!isPlainText(block)) out.push(block);
    else if (last && isPlainText(last))
      out[out.length - 1] = { type: 'text', text: last.text + block.text };
    else out.push(block);
  }
  return out.filter((block) => !isPlainText(block) || block.text !== '');
}

function isPlainText(block: unknown): block is { type: 'text'; text: string } {
  const b = block as Record<string, unknown>;
  return b.type === 'text' && typeof b.text === 'string' && Object.keys(b).length === 2;
}

/** Text of a message's content, whether a string or a list of blocks (text blocks only). */
export function textOf(content: unknown): string {
  return contentPieces(content).text;
}
