import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../emulator/index.ts';
import { startGateway, type TestGateway, withGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';
import type { Frame, TestClient } from '../helpers/ws-client.ts';

const SONNET = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({ MAX_AGENT_STEPS: '3' });
});
afterAll(async () => {
  await gw.close();
});
afterEach(async () => {
  await gw.closeClients();
  gw.emulator.reset();
});

const of = (frames: Frame[], type: string) => frames.filter((f) => f.type === type);
const toolUse = (name: string, input: Record<string, unknown>, toolUseId?: string) => ({
  toolUse: { name, input, ...(toolUseId ? { toolUseId } : {}) },
});

async function turn(client: TestClient, content: string, ...replies: Reply[]) {
  gw.emulator.enqueue(...replies);
  const frames = await client.chat(content);
  await checkStored(client, frames);
  return { frames, ...checkTurn(frames) };
}

describe('a turn through the gateway', () => {
  it('streams hundreds of chunks in order, and turn-end.text is their concatenation', async () => {
    const client = await gw.connect();
    const text = Array.from({ length: 300 }, (_, i) => `w${i} `).join('');
    const { frames, end } = await turn(client, 'long please', {
      blocks: [{ text }],
      chunkChars: 2,
    });
    expect(of(frames, 'token').length).toBeGreaterThanOrEqual(300);
    expect(end.text).toBe(text);
    expect(end.stopReason).toBe('end_turn');
    expect(end.model).toBe(SONNET);
  });

  it('sends a one-chunk answer once', async () => {
    const client = await gw.connect();
    const { frames, end } = await turn(client, 'short', {
      blocks: [{ text: 'Hi!' }],
      chunks: ['Hi!'],
    });
    expect(of(frames, 'token').map((f) => f.text)).toEqual(['Hi!']);
    expect(end.text).toBe('Hi!');
  });

  it('keeps CJK and emoji with joiners intact when split across chunks', async () => {
    const client = await gw.connect();
    const text = '東京は晴れです。👩‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇯🇵 done';
    const { end } = await turn(client, 'multibyte', { blocks: [{ text }], chunkChars: 1 });
    expect(end.text).toBe(text);
  });

  it('sends text written before a tool call before its tool-start, then the tool round trip', async () => {
    const client = await gw.connect();
    const { frames, end } = await turn(
      client,
      'what is 6*7?',
      {
        blocks: [
          { text: 'Let me calculate. ' },
          toolUse('calculator', { expression: '6*7' }, 'tu_1'),
        ],
      },
      { blocks: [{ text: 'It is 42.' }] },
    );
    const types = frames.map((f) => f.type);
    expect(types.indexOf('token')).toBeLessThan(types.indexOf('tool-start'));
    const [start] = of(frames, 'tool-start');
    const [done] = of(frames, 'tool-end');
    expect(start).toMatchObject({
      toolCallId: 'tu_1',
      name: 'calculator',
      input: { expression: '6*7' },
    });
    expect(done).toMatchObject({
      toolCallId: 'tu_1',
      name: 'calculator',
      output: '42',
      isError: false,
    });
    expect(done!.durationMs).toBeGreaterThanOrEqual(0);
    expect(end.text).toBe('Let me calculate. It is 42.');
    // The model received the tool result in the second call.
    const second = gw.emulator.requests[1]!.body as {
      messages: { content: { toolResult?: { content: { text: string }[] } }[] }[];
    };
    const result = second.messages.at(-1)!.content.find((c) => c.toolResult)!.toolResult!;
    expect(result.content[0]!.text).toBe('42');
  });

  it('runs two tool calls of one model message, each started and ended once', async () => {
    const client = await gw.connect();
    const { frames } = await turn(
      client,
      'two things',
      {
        blocks: [
          toolUse('calculator', { expression: '1+1' }, 'a'),
          toolUse('current_time', { timezone: 'Europe/London' }, 'b'),
        ],
      },
      { blocks: [{ text: 'Done.' }] },
    );
    expect(of(frames, 'tool-start').map((f) => f.toolCallId)).toEqual(['a', 'b']);
    expect(of(frames, 'tool-end').map((f) => f.output)[0]).toBe('2');
    expect(of(frames, 'tool-end')[1]!.output).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/,
    );
  });

  it('reports an unknown tool as a failed tool call and lets the model go on', async () => {
    const client = await gw.connect();
    const { frames, end } = await turn(
      client,
      'use a tool you lack',
      { blocks: [toolUse('launch_rocket', { target: 'moon' }, 'x')] },
      { blocks: [{ text: 'I cannot do that.' }] },
    );
    expect(of(frames, 'tool-end')[0]).toMatchObject({ toolCallId: 'x', isError: true });
    expect(of(frames, 'tool-end')[0]!.output).toMatch(/Unknown tool "launch_rocket"/);
    expect(end.stopReason).toBe('end_turn');
  });

  it('reports a tool that throws as a failed tool call', async () => {
    const client = await gw.connect();
    const { frames } = await turn(
      client,
      'divide by zero',
      { blocks: [toolUse('calculator', { expression: '1/0' }, 'z')] },
      { blocks: [{ text: 'That is undefined.' }] },
    );
    expect(of(frames, 'tool-end')[0]).toMatchObject({ isError: true });
    expect(of(frames, 'tool-end')[0]!.output).toMatch(/division by zero/);
  });

  it('sends reasoning as reasoning frames, never as text', async () => {
    const client = await gw.connect();
    const { frames, end } = await turn(client, 'think', {
      blocks: [
        { reasoning: 'The user wants me to think.', signature: 'sig' },
        { text: 'Thought about it.' },
      ],
    });
    expect(
      of(frames, 'reasoning')
        .map((f) => f.text)
        .join(''),
    ).toBe('The user wants me to think.');
    expect(end.text).toBe('Thought about it.');
  });

  it('ends with step_limit after MAX_AGENT_STEPS model calls, and the next turn works', async () => {
    const client = await gw.connect();
    const loop = { blocks: [toolUse('calculator', { expression: '1+1' })] };
    const { end } = await turn(client, 'loop forever', loop, loop, loop, loop);
    expect(end.stopReason).toBe('step_limit');
    expect(gw.emulator.requests).toHaveLength(3);
    const next = await turn(client, 'and now?', { blocks: [{ text: 'Fine.' }] });
    expect(next.end.stopReason).toBe('end_turn');
  });

  it('sums usage over the model calls of a turn', async () => {
    const client = await gw.connect();
    const { end } = await turn(
      client,
      'usage',
      {
        blocks: [toolUse('calculator', { expression: '2*2' })],
        usage: { inputTokens: 10, outputTokens: 3 },
      },
      { blocks: [{ text: 'Four.' }], usage: { inputTokens: 20, outputTokens: 2 } },
    );
    expect(end.usage).toEqual({
      inputTokens: 30,
      outputTokens: 5,
      totalTokens: 35,
      cacheReadInputTokens: 0,
      cacheWriteInputTokens: 0,
      // The default model's list price: $3 in, $15 out per million tokens.
      costUsd: (30 * 3 + 5 * 15) / 1e6,
    });
  });

  it('reports max_tokens as the stop reason', async () => {
    const client = await gw.connect();
    const { end } = await turn(client, 'cut me off', {
      blocks: [{ text: 'Once upon a' }],
      stopReason: 'max_tokens',
    });
    expect(end.stopReason).toBe('max_tokens');
  });

  it('sends the earlier turns of the conversation to the model', async () => {
    const client = await gw.connect();
    await turn(client, 'my name is Ada', { blocks: [{ text: 'Hello Ada.' }] });
    await turn(client, 'what is my name?', { blocks: [{ text: 'Ada.' }] });
    const body = gw.emulator.requests[1]!.body as {
      messages: { role: string; content: { text?: string }[] }[];
    };
    expect(body.messages.map((m) => [m.role, m.content[0]?.text])).toEqual([
      ['user', 'my name is Ada'],
      ['assistant', 'Hello Ada.'],
      ['user', 'what is my name?'],
    ]);
  });
});

describe('configuration', () => {
  it('sends SYSTEM_PROMPT as the system prompt, the skills listed after it', async () => {
    await withGateway(
      { SYSTEM_PROMPT: 'Be brief.' },
      async (other) => {
        await turn(await other.connect(), 'hi', { blocks: [{ text: 'Hi.' }] });
        const [system] = (gw.emulator.requests[0]!.body?.system ?? []) as { text: string }[];
        expect(system!.text.startsWith('Be brief.\n\n')).toBe(true);
        expect(system!.text).toMatch(/\bsql\b/);
      },
      { emulator: gw.emulator },
    );
  });
});

describe('streaming modes', () => {
  it('delivers the text of a non-streaming model once', async () => {
    await withGateway(
      { BEDROCK_NON_STREAMING_MODELS: SONNET },
      async (other) => {
        const client = await other.connect();
        const { frames, end } = await turn(
          client,
          'tool then answer',
          // The second call repeats text of the first: a substring test would drop it.
          { blocks: [{ text: 'OK. ' }, toolUse('calculator', { expression: '3*3' })] },
          { blocks: [{ text: 'OK.' }] },
        );
        expect(gw.emulator.requests.map((r) => r.operation)).toEqual(['converse', 'converse']);
        expect(of(frames, 'token').map((f) => f.text)).toEqual(['OK. ', 'OK.']);
        expect(end.text).toBe('OK. OK.');
      },
      { emulator: gw.emulator },
    );
  });

  it('falls back to Converse when streaming tool use is refused, without doubling text', async () => {
    await withGateway(
      {},
      async (other) => {
        gw.emulator.refuseStreamingToolUse(SONNET);
        const client = await other.connect();
        const first = await turn(client, 'hi', { blocks: [{ text: 'Hello there.' }] });
        expect(first.end.text).toBe('Hello there.');
        const second = await turn(client, 'again', { blocks: [{ text: 'Hello again.' }] });
        expect(second.end.text).toBe('Hello again.');
        expect(gw.emulator.requests.map((r) => r.operation)).toEqual([
          'converse-stream',
          'converse',
          'converse',
        ]);
      },
      { emulator: gw.emulator },
    );
  });
});
