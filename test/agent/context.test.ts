import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import { textOf } from '../../src/agent/content.ts';
import {
  estimateTokens,
  repairConversation,
  trimInSteps,
  trimToBudget,
} from '../../src/agent/context.ts';

// ---- builders ---------------------------------------------------------------------------

const human = (text: string) => new HumanMessage(text);
const ai = (text: string, ...callIds: string[]) =>
  new AIMessage({
    content: text,
    tool_calls: callIds.map((id) => ({
      id,
      name: 'calculator',
      args: { expression: '1+1' },
      type: 'tool_call' as const,
    })),
  });
const result = (callId: string, text = `result of ${callId}`) =>
  new ToolMessage({ content: text, tool_call_id: callId, name: 'calculator' });

/** A readable picture of a conversation: `H:text`, `A:text[c1,c2]`, `T:c1=text`. */
function show(messages: readonly BaseMessage[]): string[] {
  return messages.map((m) => {
    if (HumanMessage.isInstance(m)) return `H:${textOf(m.content)}`;
    if (ToolMessage.isInstance(m)) return `T:${m.tool_call_id}=${textOf(m.content)}`;
    if (AIMessage.isInstance(m)) {
      const calls = (m.tool_calls ?? []).map((c) => c.id).join(',');
      return `A:${textOf(m.content)}${calls ? `[${calls}]` : ''}`;
    }
    return `?:${m.getType()}`;
  });
}

// ---- the Bedrock conversation rules ------------------------------------------------------

/**
 * Why Bedrock's Converse would refuse this conversation, or undefined if it would accept
 * it: it starts with a user message; user and assistant turns alternate, a run of tool
 * results counting as one user turn; every tool call of an assistant message is answered
 * exactly once by the tool results right after it, and tool results appear nowhere else;
 * no text message is blank.
 */
function bedrockProblem(messages: readonly BaseMessage[]): string | undefined {
  if (messages.length === 0) return 'the conversation is empty';
  if (!HumanMessage.isInstance(messages[0])) return 'it does not start with a user message';
  let previous: 'user' | 'assistant' | undefined;
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    if (HumanMessage.isInstance(message)) {
      if (previous === 'user') return `two user turns in a row at ${i}`;
      if (textOf(message.content).trim() === '') return `blank user message at ${i}`;
      previous = 'user';
    } else if (AIMessage.isInstance(message)) {
      if (previous !== 'user') return `assistant message at ${i} does not follow a user turn`;
      previous = 'assistant';
      const calls = (message.tool_calls ?? []).map((c) => c.id ?? '');
      if (calls.length === 0) {
        if (textOf(message.content).trim() === '') return `blank assistant message at ${i}`;
        continue;
      }
      const answered: string[] = [];
      while (i + 1 < messages.length && ToolMessage.isInstance(messages[i + 1])) {
        answered.push((messages[++i] as ToolMessage).tool_call_id);
      }
      if ([...answered].sort().join() !== [...calls].sort().join()) {
        return `tool calls [${calls}] answered by [${answered}] at ${i}`;
      }
      previous = 'user';
    } else if (ToolMessage.isInstance(message)) {
      return `tool result at ${i} does not follow its tool call`;
    } else {
      return `unexpected ${message.getType()} message at ${i}`;
    }
  }
  return undefined;
}

const isBedrockValid = (messages: readonly BaseMessage[]) => bedrockProblem(messages) === undefined;

// ---- seeded random histories -------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failing history can be reproduced. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A history as a broken store might hold it: any order, missing and stray results. */
function randomHistory(random: () => number): BaseMessage[] {
  const pick = (n: number) => Math.floor(random() * n);
  const length = pick(14);
  const calls: string[] = [];
  const history: BaseMessage[] = [];
  let n = 0;
  for (let k = 0; k < length; k++) {
    n++;
    const roll = random();
    if (roll < 0.3) history.push(human(`user ${n}`));
    else if (roll < 0.45) history.push(ai(`answer ${n}`));
    else if (roll < 0.5) history.push(ai(pick(2) ? '' : '  '));
    else if (roll < 0.7) {
      const ids = Array.from({ length: 1 + pick(3) }, (_, j) => `call_${n}_${j}`);
      calls.push(...ids);
      history.push(ai(pick(2) ? `using tools ${n}` : '', ...ids));
    } else if (roll < 0.92 && calls.length > 0) {
      // A result for some call so far, usually the newest, sometimes again.
      const id =
        random() < 0.7
          ? calls.at(-1 - pick(Math.min(3, calls.length)))!
          : calls[pick(calls.length)]!;
      history.push(result(id, `output ${n}`));
    } else {
      history.push(result(`stray_${n}`, `stray ${n}`));
    }
  }
  return history;
}

/** The very same message objects, in the same order. */
function expectSameMessages(
  actual: readonly BaseMessage[],
  expected: readonly BaseMessage[],
  label?: string,
): void {
  expect(actual.length, label).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(actual[i], label).toBe(expected[i]);
}

/** What `show` gives for an assistant message with some text and no tool calls. */
const PLACEHOLDER = expect.stringMatching(/^A:\S[^[]*$/);

function humanTexts(messages: readonly BaseMessage[]): string[] {
  return messages.filter((m) => HumanMessage.isInstance(m)).map((m) => textOf(m.content));
}

describe('the Bedrock conversation checker of these tests', () => {
  it.each([
    ['an empty conversation', []],
    ['one starting with the assistant', [ai('a'), human('q')]],
    ['two user messages in a row', [human('a'), human('b')]],
    ['two assistant messages in a row', [human('q'), ai('a'), ai('b')]],
    ['a tool call without its result', [human('q'), ai('', 'c1'), ai('done')]],
    ['a result for another call', [human('q'), ai('', 'c1'), result('c2')]],
    ['a result given twice', [human('q'), ai('', 'c1'), result('c1'), result('c1')]],
    ['a stray result', [human('q'), result('c1'), ai('a')]],
    ['a user message right after a result', [human('q'), ai('', 'c1'), result('c1'), human('r')]],
    ['a blank assistant message', [human('q'), ai(' ')]],
  ])('refuses %s', (_what, messages) => {
    expect(isBedrockValid(messages)).toBe(false);
  });

  it('accepts a conversation with tool calls', () => {
    expect(
      bedrockProblem([human('q'), ai('', 'c1', 'c2'), result('c2'), result('c1'), ai('a')]),
    ).toBeUndefined();
  });
});

// ---- textOf ------------------------------------------------------------------------------

describe('textOf', () => {
  it('returns a string content as it is', () => {
    expect(textOf('hello')).toBe('hello');
  });

  it('joins the text blocks and ignores the others', () => {
    expect(
      textOf([
        { type: 'text', text: 'Let me ' },
        { type: 'tool_use', id: 't1', name: 'calculator', input: {} },
        { type: 'image_url', image_url: 'data:,' },
        { type: 'text', text: 'check.' },
      ]),
    ).toBe('Let me check.');
  });

  it('gives an empty string for no blocks', () => {
    expect(textOf([])).toBe('');
  });
});

// ---- repairConversation ------------------------------------------------------------------

describe('repairConversation', () => {
  it('passes a valid history through unchanged', () => {
    const history = [
      human('what is 2+2 and 3+3?'),
      ai('Let me compute.', 'c1', 'c2'),
      result('c1', '4'),
      result('c2', '6'),
      ai('4 and 6.'),
      human('thanks'),
      ai('', 'c3'),
      result('c3', 'x'),
      ai('You are welcome.'),
    ];
    expect(isBedrockValid(history)).toBe(true);
    const repaired = repairConversation(history);
    expect(show(repaired)).toEqual(show(history));
    expect(repaired).toHaveLength(history.length);
    expectSameMessages(repaired, history);
  });

  it('answers a tool call that has no result with an error result right after it', () => {
    const history = [human('q'), ai('', 'c1', 'c2'), result('c1', 'one')];
    const repaired = repairConversation(history);
    expect(show(repaired).slice(0, 3)).toEqual(['H:q', 'A:[c1,c2]', 'T:c1=one']);
    const filler = repaired[3] as ToolMessage;
    expect(ToolMessage.isInstance(filler)).toBe(true);
    expect(filler.tool_call_id).toBe('c2');
    expect(filler.name).toBe('calculator');
    expect(filler.status).toBe('error');
    expect(textOf(filler.content)).toMatch(/not run/);
    expect(repaired).toHaveLength(4);
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('answers the calls of an interrupted last turn before the next user message', () => {
    const repaired = repairConversation([human('q'), ai('Checking.', 'c1'), human('hello?')]);
    expect(show(repaired).map((d) => d.slice(0, 2))).toEqual(['H:', 'A:', 'T:', 'A:', 'H:']);
    expect((repaired[2] as ToolMessage).tool_call_id).toBe('c1');
    expect((repaired[2] as ToolMessage).status).toBe('error');
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('drops orphan tool results', () => {
    const history = [
      human('q'),
      result('nowhere', 'stray'),
      ai('', 'c1'),
      result('c1', 'ok'),
      result('other', 'not asked for'),
      ai('done'),
      result('late', 'after text'),
    ];
    const repaired = repairConversation(history);
    expect(show(repaired)).toEqual(['H:q', 'A:[c1]', 'T:c1=ok', 'A:done']);
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('keeps the first of two results for one call', () => {
    const repaired = repairConversation([
      human('q'),
      ai('', 'c1'),
      result('c1', 'first'),
      result('c1', 'second'),
      ai('done'),
    ]);
    expect(show(repaired)).toEqual(['H:q', 'A:[c1]', 'T:c1=first', 'A:done']);
  });

  it('puts the results in the order of the calls', () => {
    const repaired = repairConversation([
      human('q'),
      ai('', 'c1', 'c2'),
      result('c2', 'two'),
      result('c1', 'one'),
      ai('done'),
    ]);
    expect(show(repaired)).toEqual(['H:q', 'A:[c1,c2]', 'T:c1=one', 'T:c2=two', 'A:done']);
  });

  it('drops assistant and tool messages before the first user message', () => {
    const repaired = repairConversation([
      ai('hello from nowhere'),
      ai('', 'c0'),
      result('c0', 'zero'),
      human('q'),
      ai('a'),
    ]);
    expect(show(repaired)).toEqual(['H:q', 'A:a']);
  });

  it('gives nothing for a history without a user message', () => {
    expect(repairConversation([ai('a'), result('c1')])).toEqual([]);
    expect(repairConversation([])).toEqual([]);
  });

  it('puts a placeholder assistant message between two user messages in a row', () => {
    const repaired = repairConversation([human('first'), human('second'), ai('a')]);
    expect(show(repaired)).toEqual(['H:first', PLACEHOLDER, 'H:second', 'A:a']);
    expect((repaired[1] as AIMessage).tool_calls ?? []).toEqual([]);
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('keeps three user messages in a row apart, in order', () => {
    const repaired = repairConversation([human('1'), human('2'), human('3')]);
    expect(show(repaired)).toEqual(['H:1', PLACEHOLDER, 'H:2', PLACEHOLDER, 'H:3']);
  });

  it('puts a placeholder assistant message between a tool result and a user message', () => {
    const repaired = repairConversation([
      human('q'),
      ai('', 'c1'),
      result('c1', 'ok'),
      human('and now?'),
    ]);
    expect(repaired).toHaveLength(5);
    expect(show(repaired.slice(0, 3))).toEqual(['H:q', 'A:[c1]', 'T:c1=ok']);
    const placeholder = repaired[3]!;
    expect(AIMessage.isInstance(placeholder)).toBe(true);
    expect(textOf(placeholder.content).trim()).not.toBe('');
    expect((placeholder as AIMessage).tool_calls ?? []).toEqual([]);
    expect(show([repaired[4]!])).toEqual(['H:and now?']);
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('drops empty assistant messages', () => {
    const repaired = repairConversation([
      human('q'),
      ai(''),
      ai('   '),
      new AIMessage({ content: [{ type: 'text', text: '' }] }),
      ai('real answer'),
    ]);
    expect(show(repaired)).toEqual(['H:q', 'A:real answer']);
  });

  it('puts a placeholder where an empty assistant message was dropped between user messages', () => {
    const repaired = repairConversation([human('q'), ai(''), human('again')]);
    expect(show(repaired)).toEqual(['H:q', PLACEHOLDER, 'H:again']);
  });

  it('keeps one of two assistant messages in a row', () => {
    const repaired = repairConversation([human('q'), ai('one'), ai('two')]);
    expect(repaired.filter((m) => AIMessage.isInstance(m))).toHaveLength(1);
    expect(bedrockProblem(repaired)).toBeUndefined();
  });

  it('never changes the stored history', () => {
    const history = [ai('x'), human('a'), human('b'), ai('', 'c1'), result('zz')];
    const before = show(history);
    const copy = [...history];
    repairConversation(history);
    expect(show(history)).toEqual(before);
    expectSameMessages(history, copy);
  });

  it('makes every one of 500 random histories a conversation Bedrock accepts', () => {
    const random = prng(20261124);
    let repairedNonEmpty = 0;
    let brokenBefore = 0;
    for (let run = 0; run < 500; run++) {
      const history = randomHistory(random);
      const label = `history ${run}: ${JSON.stringify(show(history))}`;
      const repaired = repairConversation(history);
      if (!history.some((m) => HumanMessage.isInstance(m))) {
        expect(repaired, label).toEqual([]);
        continue;
      }
      repairedNonEmpty++;
      if (!isBedrockValid(history)) brokenBefore++;
      expect(bedrockProblem(repaired), label).toBeUndefined();
      // Every user message is kept, in order.
      expect(humanTexts(repaired).join('\n\n'), label).toBe(humanTexts(history).join('\n\n'));
      // Every tool result either was stored or says its call was not run.
      for (const message of repaired.filter((m) => ToolMessage.isInstance(m))) {
        const stored = history.includes(message);
        const filler =
          (message as ToolMessage).status === 'error' && /not run/.test(textOf(message.content));
        expect(stored || filler, label).toBe(true);
      }
      // Repairing again changes nothing.
      const again = repairConversation(repaired);
      expectSameMessages(again, repaired, label);
    }
    // The generator produces enough interesting cases to mean something.
    expect(repairedNonEmpty).toBeGreaterThan(300);
    expect(brokenBefore).toBeGreaterThan(200);
  });
});

// ---- trimToBudget ------------------------------------------------------------------------

/** The reference answer: the earliest user message whose suffix fits, else the last one. */
function expectedTrimStart(messages: readonly BaseMessage[], budget: number): number {
  const humans = messages.flatMap((m, i) => (HumanMessage.isInstance(m) ? [i] : []));
  if (humans.length === 0) return messages.length;
  const cost = (from: number) =>
    messages.slice(from).reduce((sum, m) => sum + estimateTokens(m), 0);
  return humans.find((i) => cost(i) <= budget) ?? humans.at(-1)!;
}

const tokensOf = (messages: readonly BaseMessage[]) =>
  messages.reduce((sum, m) => sum + estimateTokens(m), 0);

describe('trimToBudget', () => {
  const exchange = (n: number) => [
    human(`question ${n} ${'x'.repeat(40)}`),
    ai('', `c${n}`),
    result(`c${n}`, `tool output ${n} ${'y'.repeat(80)}`),
    ai(`answer ${n} ${'z'.repeat(40)}`),
  ];
  const history = [...exchange(1), ...exchange(2), ...exchange(3)];

  it('keeps everything that fits', () => {
    const trimmed = trimToBudget(history, tokensOf(history));
    expect(trimmed).toEqual(history);
  });

  it('keeps the newest exchanges within the budget', () => {
    const lastTwo = history.slice(4);
    const trimmed = trimToBudget(history, tokensOf(lastTwo));
    expect(show(trimmed)).toEqual(show(lastTwo));
    expectSameMessages(trimmed, lastTwo);
    expect(tokensOf(trimmed)).toBeLessThanOrEqual(tokensOf(lastTwo));
  });

  it('cuts only in front of a user message, never between a tool call and its result', () => {
    // One token short of the last two exchanges: only the last exchange fits, whole.
    const trimmed = trimToBudget(history, tokensOf(history.slice(4)) - 1);
    expect(show(trimmed)).toEqual(show(history.slice(8)));
    // Enough for the tool result and answer of exchange 2 but not its question: still cut there.
    const trimmed2 = trimToBudget(history, tokensOf(history.slice(6)));
    expect(show(trimmed2)).toEqual(show(history.slice(8)));
  });

  it('keeps the last user message and everything after it even over budget', () => {
    for (const budget of [0, 1, 10]) {
      const trimmed = trimToBudget(history, budget);
      expect(show(trimmed)).toEqual(show(history.slice(8)));
    }
  });

  it('never starts with an assistant or tool message', () => {
    const unrepaired = [ai('stray'), result('c0'), ...exchange(1)];
    const trimmed = trimToBudget(unrepaired, 1_000_000);
    expect(show(trimmed)).toEqual(show(exchange(1)));
    expect(HumanMessage.isInstance(trimmed[0])).toBe(true);
  });

  it('keeps the newest fitting suffix of 300 random conversations', () => {
    const random = prng(7);
    let cut = 0;
    for (let run = 0; run < 300; run++) {
      const conversation = repairConversation(randomHistory(random));
      if (conversation.length === 0) continue;
      const budget = Math.floor(random() * tokensOf(conversation) * 1.2);
      const trimmed = trimToBudget(conversation, budget);
      const label = `run ${run}, budget ${budget}: ${JSON.stringify(show(conversation))}`;
      const start = conversation.length - trimmed.length;
      if (start > 0) cut++;
      // A suffix of the very same messages.
      expectSameMessages(trimmed, conversation.slice(start), label);
      expect(start, label).toBe(expectedTrimStart(conversation, budget));
      expect(bedrockProblem(trimmed), label).toBeUndefined();
      const lastHuman = conversation.findLastIndex((m) => HumanMessage.isInstance(m));
      expect(start, label).toBeLessThanOrEqual(lastHuman);
      if (start < lastHuman) expect(tokensOf(trimmed), label).toBeLessThanOrEqual(budget);
    }
    expect(cut).toBeGreaterThan(50);
  });
});

describe('trimInSteps', () => {
  const exchange = (n: number) => [
    human(`question ${n} ${'x'.repeat(40)}`),
    ai(`answer ${n} ${'z'.repeat(40)}`),
  ];
  const conversation = (turns: number) =>
    Array.from({ length: turns }, (_, i) => exchange(i + 1)).flat();

  it('keeps everything that fits, as trimToBudget', () => {
    const all = conversation(5);
    expect(trimInSteps(all, tokensOf(all))).toEqual(all);
  });

  it('keeps the start of the conversation in place while it grows, within the budget', () => {
    const budget = tokensOf(conversation(10));
    const starts: string[] = [];
    for (let turns = 11; turns <= 40; turns++) {
      const all = conversation(turns);
      const trimmed = trimInSteps(all, budget);
      expect(tokensOf(trimmed)).toBeLessThanOrEqual(budget);
      expect(tokensOf(trimmed)).toBeGreaterThan(budget * 0.7);
      expectSameMessages(trimmed, all.slice(all.length - trimmed.length));
      starts.push(show(trimmed)[0]!);
    }
    // A window that slides every turn would start 30 times somewhere new; steps of a
    // quarter of the budget (2.5 turns here) move it about 12 times.
    const moves = starts.filter((start, i) => i > 0 && start !== starts[i - 1]).length;
    expect(moves).toBeLessThanOrEqual(13);
    expect(moves).toBeGreaterThan(0);
    const sliding = Array.from(
      { length: 30 },
      (_, i) => show(trimToBudget(conversation(i + 11), budget))[0],
    );
    expect(sliding.filter((start, i) => i > 0 && start !== sliding[i - 1]).length).toBe(29);
  });

  it('keeps as much as trimToBudget when turns are larger than a step', () => {
    const big = (n: number) => [
      human(`question ${n} ${'x'.repeat(400)}`),
      ai(`answer ${n} ${'z'.repeat(1200)}`),
    ];
    const budget = tokensOf(big(1)) * 2 + 10;
    for (let turns = 3; turns <= 12; turns++) {
      const all = Array.from({ length: turns }, (_, i) => big(i + 1)).flat();
      const kept = tokensOf(trimInSteps(all, budget));
      expect(kept).toBeLessThanOrEqual(budget);
      expect(kept).toBe(tokensOf(trimToBudget(all, budget)));
    }
  });
});
