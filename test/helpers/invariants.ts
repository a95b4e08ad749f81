import { expect } from 'vitest';
import { TurnFrame } from '../../src/protocol/frames.ts';
import type { Frame } from './ws-client.ts';

/**
 * Holds the frames of one turn, as one client received them, to PROTOCOL.md's invariants
 * 1–5: shape (schema), order, contiguous seq, one turn-end last, text equal to the tokens,
 * every tool-start ended once, one error at most and then stopReason error.
 */
export function checkTurn(frames: Frame[]): { text: string; end: Frame } {
  expect(frames.length, 'a turn has frames').toBeGreaterThanOrEqual(2);
  for (const frame of frames) {
    const parsed = TurnFrame.safeParse(frame);
    expect(parsed.success, `frame matches the schema: ${JSON.stringify(frame)}`).toBe(true);
  }
  const [first] = frames;
  const last = frames.at(-1)!;
  expect(first!.type).toBe('turn-start');
  expect(last.type).toBe('turn-end');
  expect(frames.filter((f) => f.type === 'turn-start')).toHaveLength(1);
  expect(frames.filter((f) => f.type === 'turn-end')).toHaveLength(1);
  const turnIds = new Set(frames.map((f) => f.turnId));
  const conversations = new Set(frames.map((f) => f.conversationId));
  expect(turnIds.size).toBe(1);
  expect(conversations.size).toBe(1);
  frames.forEach((f, i) => {
    expect(f.seq, 'seq grows by exactly 1').toBe((first!.seq as number) + i);
  });

  const text = frames
    .filter((f) => f.type === 'token')
    .map((f) => f.text as string)
    .join('');
  expect(last.text, 'turn-end.text is the tokens joined').toBe(text);

  const open = new Map<string, number>();
  for (const f of frames) {
    if (f.type === 'tool-start') {
      expect(open.has(f.toolCallId as string), 'tool call ids are unique').toBe(false);
      open.set(f.toolCallId as string, 0);
    }
    if (f.type === 'tool-end') {
      expect(open.get(f.toolCallId as string), 'tool-end follows its tool-start').toBe(0);
      open.set(f.toolCallId as string, 1);
    }
  }
  for (const [id, ended] of open) expect(ended, `tool ${id} ended once`).toBe(1);

  const errors = frames.filter((f) => f.type === 'error');
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) expect(last.stopReason).toBe('error');
  return { text, end: last };
}
