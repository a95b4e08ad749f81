import { expect, it } from 'vitest';
import { failureEvents } from '../../src/bus/frame-bus.ts';
import { ProtocolError } from '../../src/protocol/errors.ts';
import { ServerFrame } from '../../src/protocol/frames.ts';

it('writes the error frame of a ProtocolError failure with its message, and nothing of the Error', () => {
  const failure = new ProtocolError(
    'unavailable',
    'The answer could not be stored; send it again.',
    {
      cause: new Error('redis down'),
    },
  );
  const [error, end] = failureEvents(failure, { text: 'Hel', model: 'm', durationMs: 5 });
  expect(error).toEqual({
    type: 'error',
    code: 'unavailable',
    message: 'The answer could not be stored; send it again.',
    retryable: true,
  });
  expect(end).toMatchObject({ type: 'turn-end', stopReason: 'error', text: 'Hel' });
  const frame = { ...error, conversationId: 'c_1', turnId: 't_1', seq: 4 };
  expect(ServerFrame.safeParse(frame).success).toBe(true);
});
