import { expect } from 'vitest';
import { TurnFrame } from '../../src/protocol/frames.ts';
import type { Frame, TestClient } from './ws-client.ts';

/**
 * Holds the frames of one turn, as one client received them, to invariants 1–5 and 9 of
 * docs/protocol.md: shape (schema), order, contiguous seq, one turn-end last, text equal to the tokens,
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

  // Invariant 9: every approval-request gets exactly one approval-result, after it and
  // before that call's tool-end (and so before the turn-end).
  for (const request of frames.filter((f) => f.type === 'approval-request')) {
    const at = frames.indexOf(request);
    const results = frames.filter(
      (f) => f.type === 'approval-result' && f.toolCallId === request.toolCallId,
    );
    expect(results, `one approval-result for ${request.toolCallId}`).toHaveLength(1);
    const answeredAt = frames.indexOf(results[0]!);
    const endAt = frames.findIndex(
      (f) => f.type === 'tool-end' && f.toolCallId === request.toolCallId,
    );
    const startAt = frames.findIndex(
      (f) => f.type === 'tool-start' && f.toolCallId === request.toolCallId,
    );
    expect(startAt, 'the request follows its tool-start').toBeLessThan(at);
    expect(at, 'the result follows its request').toBeLessThan(answeredAt);
    expect(answeredAt, 'the result comes before its tool-end').toBeLessThan(endAt);
  }
  expect(
    frames.filter((f) => f.type === 'approval-result').length,
    'no approval-result without its request',
  ).toBe(frames.filter((f) => f.type === 'approval-request').length);

  const errors = frames.filter((f) => f.type === 'error');
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) expect(last.stopReason).toBe('error');
  return { text, end: last };
}

/**
 * Holds a finished turn to invariant 6, through the `history` frame: the turn's user
 * message is stored exactly once, followed by the tool results of its tool calls and by
 * the assistant text it sent (all of it when it finished, at most what it sent otherwise).
 * Call it right after the turn, while it is the conversation's newest.
 */
export async function checkStored(client: TestClient, frames: Frame[]): Promise<void> {
  const start = frames[0]!;
  const end = frames.at(-1)!;
  const since = client.frames.length;
  client.send({ type: 'history', conversationId: start.conversationId });
  const history = await client.next((f) => f.type === 'history', 5_000, since);
  const messages = history.messages as {
    role: string;
    content: string;
    toolCallId?: string;
    turnId: string;
    stopReason?: string;
  }[];
  const content = (start.userMessage as { content: string }).content;
  const at = messages.findLastIndex((m) => m.role === 'user');
  expect(messages[at]?.content, 'the user message is stored').toBe(content);
  expect(messages[at - 1], 'and stored once').not.toEqual({
    ...messages[at],
    createdAt: expect.anything(),
  });
  const after = messages.slice(at + 1);
  for (const m of [messages[at]!, ...after]) {
    expect(m.turnId, 'every entry names its turn').toBe(start.turnId);
    const expected =
      m.role === 'assistant' && end.stopReason !== 'end_turn' ? end.stopReason : undefined;
    expect(m.stopReason, 'assistant entries carry a stop reason other than end_turn').toBe(
      expected,
    );
  }
  expect(after.filter((m) => m.role === 'tool').map((m) => m.toolCallId)).toEqual(
    frames.filter((f) => f.type === 'tool-end').map((f) => f.toolCallId),
  );
  const stored = after
    .filter((m) => m.role === 'assistant')
    .map((m) => m.content)
    .join('');
  // A cancelled turn keeps what it streamed (the page shows it again after a reload).
  if (['end_turn', 'max_tokens', 'step_limit', 'cancelled'].includes(end.stopReason as string)) {
    expect(stored, 'the assistant text is stored whole').toBe(end.text);
  } else {
    expect((end.text as string).startsWith(stored), 'no text stored that was not sent').toBe(true);
  }
}
