import { describe, expect, it } from 'vitest';
import { contentPieces } from '../../src/agent/content.ts';
import { truncateUtf8 } from '../../src/agent/normalizer.ts';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');

describe('contentPieces', () => {
  it('takes a string as text', () => {
    expect(contentPieces('Hello there')).toEqual({ text: 'Hello there', reasoning: '' });
  });

  it('joins text blocks in order', () => {
    expect(
      contentPieces([
        { type: 'text', text: 'Let me ' },
        { type: 'text', text: 'check.' },
      ]),
    ).toEqual({ text: 'Let me check.', reasoning: '' });
  });

  it('takes reasoning_content blocks as reasoning, never as text', () => {
    expect(
      contentPieces([
        { type: 'reasoning_content', reasoningText: { text: 'The user wants ' } },
        { type: 'reasoning_content', reasoningText: { text: 'the time.', signature: 'sig' } },
        { type: 'text', text: 'It is noon.' },
      ]),
    ).toEqual({ text: 'It is noon.', reasoning: 'The user wants the time.' });
  });

  it('takes reasoning blocks as reasoning', () => {
    expect(contentPieces([{ type: 'reasoning', reasoning: 'thinking' }])).toEqual({
      text: '',
      reasoning: 'thinking',
    });
  });

  it('ignores tool_use blocks', () => {
    expect(
      contentPieces([
        { type: 'text', text: 'Calling. ' },
        { type: 'tool_use', id: 'tooluse_1', name: 'calculator', input: { expression: '1+1' } },
        { type: 'tool_call_chunk', id: 'tooluse_1', args: '{"expr' },
        { type: 'text', text: 'Done.' },
      ]),
    ).toEqual({ text: 'Calling. Done.', reasoning: '' });
  });

  it('ignores blocks without usable text', () => {
    expect(
      contentPieces([
        { type: 'text' },
        { type: 'text', text: 42 },
        { type: 'reasoning_content' },
        { type: 'reasoning_content', reasoningText: { signature: 'only' } },
      ]),
    ).toEqual({ text: '', reasoning: '' });
  });

  it.each([undefined, null, 42, {}])('gives nothing for %j', (content) => {
    expect(contentPieces(content)).toEqual({ text: '', reasoning: '' });
  });

  it('keeps an empty string as empty text', () => {
    expect(contentPieces('')).toEqual({ text: '', reasoning: '' });
  });
});

describe('truncateUtf8', () => {
  it('returns a string that fits unchanged', () => {
    expect(truncateUtf8('hello', 5)).toBe('hello');
    expect(truncateUtf8('日本語', 9)).toBe('日本語');
    expect(truncateUtf8('', 0)).toBe('');
  });

  it('cuts ASCII at the byte limit', () => {
    expect(truncateUtf8('hello world', 5)).toBe('hello');
    expect(truncateUtf8('hello world', 0)).toBe('');
  });

  it('never splits a CJK character', () => {
    // Three bytes each: 7 bytes hold two characters, not two and a third.
    expect(truncateUtf8('日本語テキスト', 7)).toBe('日本');
    expect(truncateUtf8('日本語テキスト', 8)).toBe('日本');
    expect(truncateUtf8('日本語テキスト', 9)).toBe('日本語');
    expect(truncateUtf8('日本語', 2)).toBe('');
  });

  it('never splits an emoji', () => {
    // Four bytes each (two UTF-16 units).
    expect(truncateUtf8('😀😃😄', 4)).toBe('😀');
    expect(truncateUtf8('😀😃😄', 7)).toBe('😀');
    expect(truncateUtf8('😀😃😄', 8)).toBe('😀😃');
    expect(truncateUtf8('a😀', 4)).toBe('a');
  });

  it('never splits a two-byte character', () => {
    expect(truncateUtf8('héllo', 2)).toBe('h');
    expect(truncateUtf8('héllo', 3)).toBe('hé');
  });

  it('gives a prefix within the limit for every cut of mixed text', () => {
    const text = 'aé日😀 b€ 👩‍💻 ok 中文 ñ';
    for (let max = 0; max <= bytes(text) + 2; max++) {
      const cut = truncateUtf8(text, max);
      expect(text.startsWith(cut), `max ${max}`).toBe(true);
      expect(bytes(cut), `max ${max}`).toBeLessThanOrEqual(max);
      expect(cut, `max ${max}`).not.toContain('\uFFFD');
      // Re-encoding gives the same string: no half character was decoded.
      expect(Buffer.from(cut, 'utf8').toString('utf8'), `max ${max}`).toBe(cut);
      // As long as possible: the next whole character would not fit.
      if (cut.length < text.length) {
        const next = String.fromCodePoint(text.codePointAt(cut.length)!);
        expect(bytes(cut) + bytes(next), `max ${max}`).toBeGreaterThan(max);
      }
    }
  });

  it('cuts a long tool output to 16 KiB', () => {
    const output = '漢'.repeat(10_000);
    const cut = truncateUtf8(output, 16 * 1024);
    expect(bytes(cut)).toBe(16_383);
    expect(cut).toBe('漢'.repeat(5461));
  });
});
