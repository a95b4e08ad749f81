import type { ContentBlock, Message } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { guardLatestQuestion } from '../../src/providers/bedrock/guardrails.ts';

const POINT: ContentBlock = { cachePoint: { type: 'default' } };
const user = (...content: ContentBlock[]): Message => ({ role: 'user', content });
const assistant = (...content: ContentBlock[]): Message => ({ role: 'assistant', content });
const guarded = (text: string): ContentBlock => ({ guardContent: { text: { text } } });

describe('guardLatestQuestion', () => {
  const history = [user({ text: 'first' }), assistant({ text: 'one' })];

  it("guards the turn's question, not earlier ones, and adds a cache point before it", () => {
    const out = guardLatestQuestion([...history, user({ text: 'second' }, POINT)], 3);
    expect(out).toEqual([
      user({ text: 'first' }),
      assistant({ text: 'one' }, POINT),
      user(guarded('second'), POINT),
    ]);
  });

  it('guards the question, not the tool results that follow it in a tool loop', () => {
    const call = { toolUse: { toolUseId: 't1', name: 'calculator', input: {} } };
    const result = { toolResult: { toolUseId: 't1', content: [{ text: '42' }] } };
    const out = guardLatestQuestion(
      [...history, user({ text: 'second' }), assistant(call), user(result, POINT)],
      3,
    );
    expect(out[2]).toEqual(user(guarded('second')));
    expect(out[4]).toEqual(user(result, POINT));
  });

  it('adds no cache point without caching, past four, or after reasoning', () => {
    const question = user({ text: 'second' });
    expect(guardLatestQuestion([...history, question], 0)[1]).toEqual(history[1]);
    expect(guardLatestQuestion([...history, user({ text: 'second' }, POINT)], 4)[1]).toEqual(
      history[1],
    );
    const reasoned = assistant({
      reasoningContent: { reasoningText: { text: 'hm', signature: 's' } },
    });
    expect(guardLatestQuestion([history[0]!, reasoned, user({ text: 'x' }, POINT)], 3)[1]).toEqual(
      reasoned,
    );
  });

  it('leaves alone a question with no text, and messages a graph guarded itself', () => {
    const image = user({ image: { format: 'png', source: { bytes: new Uint8Array([1]) } } });
    expect(guardLatestQuestion([...history, image], 0)).toEqual([...history, image]);
    const own = [user(guarded('first')), assistant({ text: 'one' }), user({ text: 'second' })];
    expect(guardLatestQuestion(own, 0)).toEqual(own);
  });
});
