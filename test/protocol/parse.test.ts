import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { describeIssues } from '../../src/protocol/describe-issues.ts';
import { ERROR_CODES, ProtocolError } from '../../src/protocol/errors.ts';
import { type ParseResult, parseClientFrame } from '../../src/protocol/parse.ts';
import { codeSpans, readDoc, section, tableRows } from '../helpers/docs.ts';

const MAX = 65_536;

function parse(data: string | Buffer, isBinary = false, max = MAX): ParseResult {
  return parseClientFrame(data, isBinary, max);
}

function frameOf(result: ParseResult) {
  if (!result.ok)
    throw new Error(`expected a frame, got ${result.error.code}: ${result.error.message}`);
  return result.frame;
}

function errorOf(result: ParseResult) {
  if (result.ok) throw new Error(`expected an error, got ${JSON.stringify(result.frame)}`);
  expect(result.error).toBeInstanceOf(ProtocolError);
  return result;
}

describe('parseClientFrame valid frames', () => {
  it.each([
    [{ type: 'chat', content: 'hello' }],
    [
      {
        type: 'chat',
        content: 'hi',
        conversationId: 'c_1',
        model: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        requestId: 'r-1',
      },
    ],
    [{ type: 'subscribe', conversationId: 'c_1' }],
    [{ type: 'subscribe', conversationId: 'c_1', afterSeq: 0 }],
    [{ type: 'subscribe', conversationId: 'c_1', afterSeq: 42 }],
    [{ type: 'unsubscribe', conversationId: 'c_1' }],
    [{ type: 'cancel', conversationId: 'c_1' }],
    [{ type: 'history' }],
    [{ type: 'history', limit: 5 }],
    [{ type: 'history', conversationId: 'c_1' }],
    [{ type: 'history', conversationId: 'c_1', limit: 10 }],
    [{ type: 'ping' }],
    [{ type: 'ping', id: 'p1' }],
    [{ type: 'ping', id: 7 }],
  ])('accepts %j', (frame) => {
    expect(frameOf(parse(JSON.stringify(frame)))).toEqual(frame);
  });

  it('accepts a JSON frame with blanks around it', () => {
    expect(frameOf(parse('  \n {"type":"ping","id":"x"}\n'))).toEqual({ type: 'ping', id: 'x' });
  });

  it('accepts a Buffer of UTF-8 text', () => {
    const frame = frameOf(parse(Buffer.from('{"type":"chat","content":"héllo ✓"}')));
    expect(frame).toEqual({ type: 'chat', content: 'héllo ✓' });
  });

  it('accepts content of exactly 32000 characters', () => {
    const content = 'a'.repeat(32_000);
    expect(frameOf(parse(JSON.stringify({ type: 'chat', content })))).toEqual({
      type: 'chat',
      content,
    });
  });

  it('accepts a requestId of exactly 128 characters', () => {
    const requestId = 'r'.repeat(128);
    const frame = frameOf(parse(JSON.stringify({ type: 'chat', content: 'x', requestId })));
    expect(frame).toMatchObject({ requestId });
  });
});

describe('parseClientFrame wscat shorthand', () => {
  it('makes plain text a chat with trimmed content', () => {
    expect(frameOf(parse('  what time is it in Tokyo?  \n'))).toEqual({
      type: 'chat',
      content: 'what time is it in Tokyo?',
    });
  });

  it('keeps inner whitespace and braces after the first character', () => {
    expect(frameOf(parse('solve {x} [fast]'))).toEqual({
      type: 'chat',
      content: 'solve {x} [fast]',
    });
  });

  it('treats a quoted JSON string as text, since it does not start with { or [', () => {
    expect(frameOf(parse('"{\\"type\\":\\"ping\\"}"'))).toEqual({
      type: 'chat',
      content: '"{\\"type\\":\\"ping\\"}"',
    });
  });

  it('refuses shorthand text over 32000 characters', () => {
    const { error } = errorOf(parse('b'.repeat(32_001)));
    expect(error.code).toBe('bad_frame');
    expect(error.message).toBe('content must be 1 to 32000 characters.');
  });
});

describe('parseClientFrame refusals', () => {
  it('refuses a binary frame, even one holding a valid frame', () => {
    const { error } = errorOf(parse(Buffer.from('{"type":"ping"}'), true));
    expect(error.code).toBe('bad_frame');
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/binary/i);
  });

  it.each(['', ' ', '\n\t  \r\n'])('refuses the blank frame %j', (data) => {
    const { error } = errorOf(parse(data));
    expect(error.code).toBe('bad_frame');
    expect(error.message).toMatch(/blank/i);
  });

  it.each(['{', '{"type":', "{'type':'ping'}", '[1,', '{"type":"ping"} trailing'])(
    'refuses the invalid JSON %j',
    (data) => {
      const { error } = errorOf(parse(data));
      expect(error.code).toBe('bad_frame');
      expect(error.message).toMatch(/JSON/);
    },
  );

  it.each(['[]', '[{"type":"ping"}]', '  ["{\\"type\\":\\"chat\\"}"]', '[null]'])(
    'refuses the JSON array %j: a frame must be an object',
    (data) => {
      const { error } = errorOf(parse(data));
      expect(error.code).toBe('bad_frame');
      expect(error.message).toMatch(/must be an object/);
    },
  );

  it.each(['{}', '{"content":"hi"}', '{"type":7}', '{"type":null,"content":"hi"}'])(
    'refuses %j for its missing or non-string type',
    (data) => {
      const { error } = errorOf(parse(data));
      expect(error.code).toBe('bad_frame');
      expect(error.message).toContain('type');
    },
  );

  it('refuses an unknown type with unknown_type naming it', () => {
    const { error } = errorOf(parse('{"type":"dance","conversationId":"c_1"}'));
    expect(error.code).toBe('unknown_type');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('"dance"');
  });

  it('refuses a server frame type sent by a client', () => {
    expect(errorOf(parse('{"type":"turn-start"}')).error.code).toBe('unknown_type');
  });

  it.each([
    ['an empty content', { type: 'chat', content: '' }, 'content must be 1 to 32000 characters.'],
    ['a missing content', { type: 'chat' }, 'content must be a string of 1 to 32000 characters.'],
    [
      'a non-string content',
      { type: 'chat', content: 42 },
      'content must be a string of 1 to 32000 characters.',
    ],
    [
      'a content over 32000 characters',
      { type: 'chat', content: 'x'.repeat(32_001) },
      'content must be 1 to 32000 characters.',
    ],
    [
      'a negative afterSeq',
      { type: 'subscribe', conversationId: 'c_1', afterSeq: -1 },
      'afterSeq must be a whole number ≥ 0.',
    ],
    [
      'a fractional afterSeq',
      { type: 'subscribe', conversationId: 'c_1', afterSeq: 1.5 },
      'afterSeq must be a whole number ≥ 0.',
    ],
    [
      'a string afterSeq',
      { type: 'subscribe', conversationId: 'c_1', afterSeq: '3' },
      'afterSeq must be a whole number ≥ 0.',
    ],
    [
      'a missing conversationId',
      { type: 'subscribe' },
      'conversationId must be a string of 1 to 200 characters.',
    ],
    [
      'a numeric conversationId',
      { type: 'history', conversationId: 7 },
      'conversationId must be a string of 1 to 200 characters.',
    ],
    [
      'an empty conversationId',
      { type: 'cancel', conversationId: '' },
      'conversationId must be 1 to 200 characters.',
    ],
    [
      'a zero limit',
      { type: 'history', conversationId: 'c_1', limit: 0 },
      'limit must be a whole number ≥ 1.',
    ],
    [
      'a requestId over 128 characters',
      { type: 'chat', content: 'x', requestId: 'r'.repeat(129) },
      'requestId must be at most 128 characters.',
    ],
    [
      'a ping id that is neither string nor number',
      { type: 'ping', id: {} },
      'id must be a string of at most 128 characters or a number.',
    ],
    [
      'two bad fields',
      { type: 'chat', content: 5, model: '' },
      'content must be a string of 1 to 32000 characters; model must be 1 to 2048 characters.',
    ],
  ])('refuses %s in plain words', (_what, frame, message) => {
    const { error } = errorOf(parse(JSON.stringify(frame)));
    expect(error.code).toBe('bad_frame');
    expect(error.message).toBe(message);
  });
});

describe('describeIssues', () => {
  const words = (schema: z.ZodType, value: unknown) => {
    const parsed = schema.safeParse(value);
    if (parsed.success) throw new Error('expected the value to be refused');
    return describeIssues(parsed.error, schema);
  };

  it('lists the choices of an enum', () => {
    const schema = z.object({ decision: z.enum(['approve', 'reject']) });
    expect(words(schema, { decision: 'maybe' })).toBe('decision must be one of approve, reject.');
    expect(words(schema, {})).toBe('decision must be one of approve, reject.');
  });

  it('gives both bounds of a number, and says true or false for a boolean', () => {
    const schema = z.object({ n: z.number().min(1).max(10), b: z.boolean() });
    expect(words(schema, { n: 11, b: 'yes' })).toBe(
      'n must be a number from 1 to 10; b must be true or false.',
    );
  });

  it('names a nested field by its path', () => {
    const schema = z.object({ calls: z.array(z.object({ id: z.string().max(5) })) });
    expect(words(schema, { calls: [{ id: 'ok' }, { id: 'too long' }] })).toBe(
      'calls.1.id must be at most 5 characters.',
    );
  });

  it('says the rule of a refinement or a format, which the type alone does not tell', () => {
    const schema = z.object({
      at: z.string().refine((v) => v.includes('@'), 'an address with @'),
      id: z.uuid(),
    });
    expect(words(schema, { at: 'x', id: 'y' })).toBe(
      'at must be an address with @; id must be a valid uuid.',
    );
  });
});

describe('parseClientFrame size', () => {
  it('accepts a frame of exactly maxFrameBytes', () => {
    const data = JSON.stringify({ type: 'chat', content: 'a'.repeat(256 - 28) });
    expect(Buffer.byteLength(data)).toBe(256);
    expect(frameOf(parse(data, false, 256)).type).toBe('chat');
  });

  it('refuses one byte more with frame_too_large', () => {
    const data = JSON.stringify({ type: 'chat', content: 'a'.repeat(256 - 27) });
    const { error } = errorOf(parse(data, false, 256));
    expect(error.code).toBe('frame_too_large');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('257');
    expect(error.message).toContain('256');
  });

  it('measures the limit in UTF-8 bytes, not characters', () => {
    // 100 characters of three bytes each: under the limit in length, over it in bytes.
    const data = JSON.stringify({ type: 'chat', content: '€'.repeat(100) });
    expect(data.length).toBeLessThanOrEqual(256);
    expect(Buffer.byteLength(data)).toBeGreaterThan(256);
    expect(errorOf(parse(data, false, 256)).error.code).toBe('frame_too_large');
    expect(errorOf(parse(Buffer.from(data), false, 256)).error.code).toBe('frame_too_large');
  });

  it('counts an emoji as four bytes', () => {
    const text = '😀'.repeat(64); // 128 UTF-16 units, 256 bytes
    expect(frameOf(parse(text, false, 256))).toEqual({ type: 'chat', content: text });
    expect(errorOf(parse(`${text}!`, false, 256)).error.code).toBe('frame_too_large');
  });

  it('checks size before JSON, so an over-size bad frame is frame_too_large', () => {
    expect(errorOf(parse(`{${'x'.repeat(300)}`, false, 256)).error.code).toBe('frame_too_large');
  });
});

describe('parseClientFrame requestId', () => {
  it('echoes a valid requestId on a field error', () => {
    const result = errorOf(parse('{"type":"chat","content":"","requestId":"req-7"}'));
    expect(result.error.code).toBe('bad_frame');
    expect(result.requestId).toBe('req-7');
  });

  it('echoes a valid requestId on unknown_type', () => {
    const result = errorOf(parse('{"type":"dance","requestId":"req-8"}'));
    expect(result.error.code).toBe('unknown_type');
    expect(result.requestId).toBe('req-8');
  });

  it('echoes a valid requestId when type is missing', () => {
    expect(errorOf(parse('{"content":"x","requestId":"req-9"}')).requestId).toBe('req-9');
  });

  it('does not echo a requestId that is too long or not a string', () => {
    const long = errorOf(
      parse(JSON.stringify({ type: 'chat', content: '', requestId: 'r'.repeat(129) })),
    );
    expect(long.requestId).toBeUndefined();
    const numeric = errorOf(parse('{"type":"chat","content":"","requestId":5}'));
    expect(numeric.requestId).toBeUndefined();
  });

  it('has no requestId on errors found before the JSON is read', () => {
    expect(errorOf(parse('{"requestId":"r1",', false)).requestId).toBeUndefined();
  });
});

describe('ERROR_CODES against docs/protocol.md', () => {
  const rows = tableRows(section(readDoc('protocol.md'), 'Errors'), [
    'code',
    'when',
    'retryable',
  ]).flatMap(([codeCell = '', , retryable = '']) =>
    codeSpans(codeCell).map((code) => ({ code, retryable })),
  );

  it('finds the table', () => {
    expect(rows.length).toBeGreaterThanOrEqual(18);
    expect(rows.map((r) => r.code)).toContain('unauthorized');
    expect(rows.map((r) => r.code)).toContain('forbidden');
  });

  it('has exactly the codes of the table', () => {
    expect(Object.keys(ERROR_CODES).sort()).toEqual(rows.map((r) => r.code).sort());
  });

  it('has the retryable flag of the table for each code', () => {
    const codes: Record<string, { retryable: boolean }> = ERROR_CODES;
    for (const { code, retryable } of rows) {
      const actual = codes[code]?.retryable;
      if (retryable === 'yes') expect(actual, code).toBe(true);
      else if (retryable === 'no') expect(actual, code).toBe(false);
      else {
        // model_error: "yes for 5xx and timeouts, else no" — decided per error.
        expect(code).toBe('model_error');
        expect(typeof actual).toBe('boolean');
      }
    }
  });

  it('gives the credential remedies for aws_credentials_missing', () => {
    const hints = ERROR_CODES.aws_credentials_missing.hints.join('\n');
    for (const remedy of ['aws configure', 'AWS_PROFILE', 'aws sso login', 'bedrock:InvokeModel']) {
      expect(hints).toContain(remedy);
    }
  });

  it('gives the access remedies for aws_access_denied', () => {
    const hints = ERROR_CODES.aws_access_denied.hints.join('\n');
    expect(hints).toMatch(/model access/i);
    expect(hints).toMatch(/region/i);
    expect(hints).toMatch(/IAM policy/);
    expect(hints).toMatch(/ARN/);
  });

  it('points at the region for bedrock_unreachable', () => {
    const hints = ERROR_CODES.bedrock_unreachable.hints.join('\n');
    expect(hints).toMatch(/region/i);
    expect(hints).toContain('AWS_DEFAULT_REGION');
  });

  it('gives a ProtocolError the table defaults unless told otherwise', () => {
    const error = new ProtocolError('aws_access_denied', 'denied');
    expect(error.retryable).toBe(false);
    expect(error.hints).toEqual(ERROR_CODES.aws_access_denied.hints);
    expect(new ProtocolError('model_error', 'boom', { retryable: true }).retryable).toBe(true);
  });
});
