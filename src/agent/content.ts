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

/** Text of a message's content, whether a string or a list of blocks (text blocks only). */
export function textOf(content: unknown): string {
  return contentPieces(content).text;
}
