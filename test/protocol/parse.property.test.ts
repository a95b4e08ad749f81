import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/protocol/errors.ts';
import {
  CLIENT_FRAME_TYPES,
  ClientFrame,
  MAX_CONTENT_CHARS,
  MAX_REQUEST_ID_CHARS,
} from '../../src/protocol/frames.ts';
import { type ParseResult, parseClientFrame } from '../../src/protocol/parse.ts';
import {
  anyFrameText,
  codeUnitString,
  edgeString,
  frameLikeObject,
  validFrame,
  wellFormedString,
} from './frame-arbitraries.ts';

const PARSER_CODES = ['bad_frame', 'frame_too_large', 'unknown_type'];
/** Large enough for every generated frame; the size properties pick their own limits. */
const ROOMY = 1 << 22;

const anyData: fc.Arbitrary<string | Buffer> = fc.oneof(
  anyFrameText,
  anyFrameText.map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)),
);
const anyLimit = fc.oneof(fc.integer({ min: 0, max: 4096 }), fc.constant(ROOMY));
const blanks = fc.string({ unit: fc.constantFrom(' ', '\n', '\t', '\r'), maxLength: 3 });

/** Text of about MAX_CONTENT_CHARS characters once trimmed, blanks around it. */
const aroundContentLimit = fc
  .tuple(blanks, fc.integer({ min: MAX_CONTENT_CHARS - 2, max: MAX_CONTENT_CHARS + 2 }), blanks)
  .map(([before, length, after]) => `${before}${'x'.repeat(length)}${after}`);

const byteLength = (data: string | Buffer) =>
  typeof data === 'string' ? Buffer.byteLength(data) : data.length;

/** What the parser must answer, whatever it was given. */
function checkAnswer(result: ParseResult): void {
  if (result.ok) {
    expect(ClientFrame.safeParse(result.frame).success).toBe(true);
    return;
  }
  expect(result.error).toBeInstanceOf(ProtocolError);
  expect(PARSER_CODES).toContain(result.error.code);
  expect(result.error.retryable).toBe(false);
  expect(result.error.message.length).toBeGreaterThan(0);
  if (result.requestId !== undefined) {
    expect(result.requestId.length).toBeLessThanOrEqual(MAX_REQUEST_ID_CHARS);
  }
}

describe('parseClientFrame properties', () => {
  it('never throws and answers a valid frame or bad_frame / frame_too_large / unknown_type', () => {
    fc.assert(
      fc.property(anyData, fc.boolean(), anyLimit, (data, isBinary, max) => {
        checkAnswer(parseClientFrame(data, isBinary, max));
      }),
      { numRuns: 2_000 },
    );
  });

  it('refuses every frame over maxFrameBytes with frame_too_large, binary or not, and no other', () => {
    fc.assert(
      fc.property(
        anyData,
        fc.boolean(),
        fc.integer({ min: -8, max: 8 }),
        (data, isBinary, delta) => {
          const max = Math.max(0, byteLength(data) + delta);
          const result = parseClientFrame(data, isBinary, max);
          const tooLarge = !result.ok && result.error.code === 'frame_too_large';
          expect(tooLarge).toBe(byteLength(data) > max);
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('refuses every binary frame within the limit with bad_frame', () => {
    fc.assert(
      fc.property(anyData, (data) => {
        const result = parseClientFrame(data, true, ROOMY);
        expect(result.ok ? 'ok' : result.error.code).toBe('bad_frame');
        expect(result.ok ? undefined : result.requestId).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips every valid frame, with blanks around it, as a string or a Buffer', () => {
    fc.assert(
      fc.property(validFrame, blanks, blanks, fc.boolean(), (frame, before, after, asBuffer) => {
        const text = `${before}${JSON.stringify(frame)}${after}`;
        const result = parseClientFrame(asBuffer ? Buffer.from(text) : text, false, ROOMY);
        expect(result).toEqual({ ok: true, frame: JSON.parse(JSON.stringify(frame)) });
      }),
      { numRuns: 1_000 },
    );
  });

  it('does not depend on the order of the fields', () => {
    fc.assert(
      fc.property(frameLikeObject, fc.infiniteStream(fc.nat()), (object, random) => {
        const entries = Object.entries(object);
        const shuffled = entries
          .map((entry) => ({ entry, key: random.next().value }))
          .sort((a, b) => a.key - b.key)
          .map(({ entry }) => entry);
        const a = parseClientFrame(JSON.stringify(object), false, ROOMY);
        const b = parseClientFrame(JSON.stringify(Object.fromEntries(shuffled)), false, ROOMY);
        expect(outcome(b)).toEqual(outcome(a));
      }),
      { numRuns: 500 },
    );
  });

  it('reads a well-formed string and its UTF-8 bytes alike', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          wellFormedString(),
          frameLikeObject.map((o) => JSON.stringify(o)),
        ),
        anyLimit,
        (text, max) => {
          const fromString = parseClientFrame(text, false, max);
          const fromBuffer = parseClientFrame(Buffer.from(text), false, max);
          expect(outcome(fromBuffer)).toEqual(outcome(fromString));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('reads non-blank text that does not start with { or [ as a chat of the trimmed text', () => {
    const shorthand = fc
      .oneof(codeUnitString(), wellFormedString(), edgeString, aroundContentLimit)
      .filter((s) => {
        const trimmed = s.trim();
        return trimmed !== '' && trimmed[0] !== '{' && trimmed[0] !== '[';
      });
    fc.assert(
      fc.property(shorthand, (text) => {
        const content = text.trim();
        const result = parseClientFrame(text, false, ROOMY);
        if (content.length <= MAX_CONTENT_CHARS) {
          expect(result).toEqual({ ok: true, frame: { type: 'chat', content } });
        } else {
          expect(outcome(result)).toEqual({ code: 'bad_frame', requestId: undefined });
        }
      }),
      { numRuns: 1_000 },
    );
  });

  it('refuses blank text with bad_frame', () => {
    fc.assert(
      fc.property(blanks, fc.boolean(), (text, asBuffer) => {
        const result = parseClientFrame(asBuffer ? Buffer.from(text) : text, false, ROOMY);
        expect(outcome(result)).toEqual({ code: 'bad_frame', requestId: undefined });
      }),
    );
  });

  it('refuses JSON that is not an object with bad_frame and no requestId', () => {
    const notObject = fc
      .jsonValue({ maxDepth: 3 })
      .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
      .map((v) => JSON.stringify(v))
      .filter((json) => json[0] === '[' || json[0] === '{');
    const arrayOfFrames = fc.array(validFrame, { maxLength: 3 }).map((a) => JSON.stringify(a));
    fc.assert(
      fc.property(fc.oneof(notObject, arrayOfFrames), (json) => {
        const result = parseClientFrame(json, false, ROOMY);
        expect(outcome(result)).toEqual({ code: 'bad_frame', requestId: undefined });
      }),
      { numRuns: 500 },
    );
  });

  it('echoes requestId on an error exactly when it is a string of at most 128 characters', () => {
    const withRequestId = fc
      .tuple(
        frameLikeObject,
        fc.oneof(
          fc.string({ maxLength: MAX_REQUEST_ID_CHARS }),
          fc.string({ minLength: MAX_REQUEST_ID_CHARS + 1, maxLength: 300 }),
          fc.jsonValue({ maxDepth: 1 }),
        ),
      )
      .map(([object, requestId]) => ({ ...object, requestId }));
    fc.assert(
      fc.property(fc.oneof(frameLikeObject, withRequestId), (object) => {
        const result = parseClientFrame(JSON.stringify(object), false, ROOMY);
        const given = object.requestId;
        const echoable = typeof given === 'string' && given.length <= MAX_REQUEST_ID_CHARS;
        if (!result.ok) {
          expect(result.requestId).toBe(echoable ? given : undefined);
        } else if (result.frame.type === 'chat') {
          expect(echoable || given === undefined).toBe(true);
          expect(result.frame.requestId).toBe(given);
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('answers unknown_type for a string type of no client frame, bad_frame for a non-string one', () => {
    fc.assert(
      fc.property(frameLikeObject, (object) => {
        const result = parseClientFrame(JSON.stringify(object), false, ROOMY);
        const type = object.type;
        if (typeof type !== 'string') {
          expect(outcome(result).code).toBe('bad_frame');
        } else if (!CLIENT_FRAME_TYPES.has(type)) {
          expect(outcome(result).code).toBe('unknown_type');
        } else {
          expect(['ok', 'bad_frame']).toContain(outcome(result).code);
        }
      }),
      { numRuns: 1_500 },
    );
  });

  it('leaves the Buffer it reads unchanged', () => {
    fc.assert(
      fc.property(anyData, fc.boolean(), anyLimit, (data, isBinary, max) => {
        const before = Buffer.from(data);
        parseClientFrame(data, isBinary, max);
        expect(Buffer.from(data).equals(before)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

/** The parts of a result a client can see. */
function outcome(result: ParseResult) {
  if (result.ok) return { code: 'ok', frame: result.frame };
  return { code: result.error.code, requestId: result.requestId };
}
