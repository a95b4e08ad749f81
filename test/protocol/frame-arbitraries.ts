import fc from 'fast-check';
import { CLIENT_FRAME_TYPES, type ClientFrame } from '../../src/protocol/frames.ts';

/**
 * fast-check generators of client frames, valid and not, shared by the parser's property
 * tests and the socket fuzz test. Lengths are in code points: `binary` strings may hold
 * astral characters (two UTF-16 units), so a field of at most N units gets N / 2 of them.
 */

/** Any UTF-16 code unit, lone surrogates included: what a JavaScript string can hold. */
export const codeUnitString = (maxLength = 64) =>
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxLength,
  });

/** Well-formed text: any code point, or whole grapheme clusters. */
export const wellFormedString = (maxLength = 64) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'grapheme-ascii', maxLength }),
  );

/** Characters that trip up naive text handling. */
const EDGE_CHARS = [
  '\u0000',
  '\uFEFF', // BOM, which String.prototype.trim removes
  '\u00A0',
  '\u2028',
  '\u2029',
  '\u200D', // zero-width joiner
  '\u202E', // right-to-left override
  '\uD800', // lone high surrogate
  '\uDFFF', // lone low surrogate
  '\uFFFD',
  '\uFFFF',
  '😀',
  '👩‍👩‍👧‍👦',
  'é', // e and a combining accent
  '\\',
  '"',
  '{',
  '[',
  ' ',
  '\n',
];

/** Strings built from the edge characters, mixed with plain text. */
export const edgeString = fc
  .array(fc.oneof(fc.constantFrom(...EDGE_CHARS), fc.string({ maxLength: 4 })), { maxLength: 24 })
  .map((parts) => parts.join(''));

const id = fc.string({ unit: 'binary', minLength: 1, maxLength: 100 });
const requestId = fc.string({ unit: 'binary', maxLength: 64 });
const conversationId = { conversationId: id };

/** Every valid client frame, with and without its optional fields. */
export const validFrame: fc.Arbitrary<ClientFrame> = fc.oneof(
  fc.record(
    {
      type: fc.constant('chat' as const),
      content: fc.oneof(
        fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
        edgeString.filter((s) => s.length > 0),
      ),
      conversationId: id,
      model: fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }),
      requestId,
    },
    { requiredKeys: ['type', 'content'] },
  ),
  fc.record(
    { type: fc.constant('subscribe' as const), ...conversationId, afterSeq: fc.maxSafeNat() },
    { requiredKeys: ['type', 'conversationId'] },
  ),
  fc.record({ type: fc.constant('unsubscribe' as const), ...conversationId }),
  fc.record({ type: fc.constant('cancel' as const), ...conversationId }),
  fc.record(
    {
      type: fc.constant('history' as const),
      ...conversationId,
      limit: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    },
    { requiredKeys: ['type', 'conversationId'] },
  ),
  fc.record(
    {
      type: fc.constant('ping' as const),
      id: fc.oneof(requestId, fc.double({ noNaN: true, noDefaultInfinity: true })),
    },
    { requiredKeys: ['type'] },
  ),
);

const FIELDS = [
  'type',
  'content',
  'conversationId',
  'model',
  'requestId',
  'afterSeq',
  'limit',
  'id',
] as const;

/** A value of any JSON type, strings of edge characters and over-long strings included. */
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  edgeString,
  fc.constantFrom('', 'r'.repeat(128), 'r'.repeat(129), 'x'.repeat(32_001)),
  fc.constantFrom(...CLIENT_FRAME_TYPES, 'turn-start', 'Chat', 'chat ', '__proto__'),
);

/** Objects near valid frames: one with a field replaced or removed, or a random record. */
export const frameLikeObject: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  validFrame as fc.Arbitrary<Record<string, unknown>>,
  fc
    .tuple(validFrame, fc.constantFrom(...FIELDS), fc.option(anyValue, { nil: undefined }))
    .map(([frame, field, value]) => {
      const copy: Record<string, unknown> = { ...frame };
      if (value === undefined) delete copy[field];
      else copy[field] = value;
      return copy;
    }),
  fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 })), anyValue, {
    maxKeys: 6,
  }),
);

/** Brackets nested `depth` deep, alone or as the value of a field of a valid frame. */
export const deepNesting = fc
  .tuple(
    fc.integer({ min: 1, max: 5_000 }),
    fc.constantFrom('[', '{"a":'),
    fc.constantFrom('alone', 'field', 'unclosed'),
  )
  .map(([depth, open, where]) => {
    const close = open === '[' ? ']' : '}';
    const nested = `${open.repeat(depth)}1${close.repeat(depth)}`;
    if (where === 'alone') return nested;
    if (where === 'unclosed') return `${open.repeat(depth)}1`;
    return `{"type":"ping","id":"p","extra":${nested}}`;
  });

/** The JSON of a frame-like object, cut short at a random point. */
export const truncatedJson = fc.tuple(frameLikeObject, fc.nat()).map(([frame, at]) => {
  const json = JSON.stringify(frame);
  return json.slice(0, at % Math.max(1, json.length));
});

/** Text a client may send: anything, but mostly shapes the parser has to tell apart. */
export const anyFrameText: fc.Arbitrary<string> = fc.oneof(
  codeUnitString(),
  wellFormedString(),
  edgeString,
  fc.json({ maxDepth: 3 }),
  frameLikeObject.map((o) => JSON.stringify(o)),
  truncatedJson,
  deepNesting,
  fc
    .tuple(fc.constantFrom(' ', '\n', '\t', '\uFEFF', ''), frameLikeObject)
    .map(([pad, o]) => `${pad}${JSON.stringify(o)}${pad}`),
);
