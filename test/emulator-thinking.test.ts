import {
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type Message,
  type ToolConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import type { MessageReply } from './emulator/index.ts';
import { readStream, rejection, statusOf, useEmulator, user } from './helpers/bedrock.ts';

const THINKER = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const ERRORS = 'The model returned the following errors: ';
const THINKING = { thinking: { type: 'enabled', budget_tokens: 2_048 } };
const TOOLS: ToolConfiguration = {
  tools: [
    {
      toolSpec: {
        name: 'current_time',
        inputSchema: { json: { type: 'object', properties: { timezone: { type: 'string' } } } },
      },
    },
  ],
};

const rig = useEmulator();
const { bedrock } = rig;

function converse(input: Partial<ConverseCommandInput> & { messages: Message[] }) {
  return bedrock.client().send(new ConverseCommand({ modelId: THINKER, ...input }));
}

/** The content of a scripted reply as a client receives it from converse. */
async function received(reply: MessageReply): Promise<ContentBlock[]> {
  rig.emulator.enqueue(reply);
  const response = await converse({ messages: [user('think')] });
  return response.output?.message?.content ?? [];
}

/** A conversation that sends `assistant` back and asks again. */
function followUp(assistant: ContentBlock[]): Message[] {
  return [user('think'), { role: 'assistant', content: assistant }, user('and now?')];
}

async function refusal(input: Partial<ConverseCommandInput> & { messages: Message[] }) {
  rig.emulator.enqueue({ blocks: [{ text: 'never sent' }] });
  const error = await rejection(converse(input));
  expect(error.name).toBe('ValidationException');
  expect(statusOf(error)).toBe(400);
  return error.message;
}

describe('thinking settings', () => {
  it.each<[string, Partial<ConverseCommandInput>, string]>([
    [
      'thinking on Claude 3.5 Haiku',
      { modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0' },
      `${ERRORS}thinking: Extra inputs are not permitted`,
    ],
    [
      'thinking on Nova',
      { modelId: 'amazon.nova-pro-v1:0' },
      'Malformed input request: extraneous key [thinking] is not permitted, please reformat your input and try again.',
    ],
    [
      'a budget under 1,024 tokens',
      { additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1_000 } } },
      `${ERRORS}thinking.enabled.budget_tokens: Input should be greater than or equal to 1024`,
    ],
    [
      'no budget',
      { additionalModelRequestFields: { thinking: { type: 'enabled' } } },
      `${ERRORS}thinking.enabled.budget_tokens: Field required`,
    ],
    [
      'maxTokens not above the budget',
      { inferenceConfig: { maxTokens: 2_048 } },
      `${ERRORS}\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size`,
    ],
    [
      'a temperature other than 1',
      { inferenceConfig: { temperature: 0.5 } },
      `${ERRORS}\`temperature\` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking`,
    ],
  ])('refuses %s', async (_case, extra, message) => {
    const input = { messages: [user('hi')], additionalModelRequestFields: THINKING, ...extra };
    expect(await refusal(input)).toBe(message);
  });

  it.each([
    'anthropic.claude-3-7-sonnet-20250219-v1:0',
    'global.anthropic.claude-opus-4-5-20251101-v1:0',
    'anthropic.claude-haiku-4-5-20251001-v1:0',
    'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123',
  ])('accepts thinking with temperature 1 and room above the budget on %s', async (modelId) => {
    rig.emulator.enqueue({ blocks: [{ text: 'Thought.' }] });
    const response = await converse({
      modelId,
      messages: [user('hi')],
      additionalModelRequestFields: THINKING,
      inferenceConfig: { maxTokens: 4_096, temperature: 1 },
    });
    expect(response.output?.message?.content).toEqual([{ text: 'Thought.' }]);
  });
});

describe('reasoning signatures', () => {
  it('signs scripted reasoning, and takes it back over converse', async () => {
    const content = await received({ blocks: [{ reasoning: 'Think.' }, { text: 'Done.' }] });
    const signature = content[0]?.reasoningContent?.reasoningText?.signature;
    expect(signature).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    rig.emulator.enqueue({ blocks: [{ text: 'Again.' }] });
    const next = await converse({ messages: followUp(content) });
    expect(next.output?.message?.content).toEqual([{ text: 'Again.' }]);
  });

  it('streams the signature after the reasoning text, and takes it back', async () => {
    rig.emulator.enqueue({ blocks: [{ reasoning: 'Step one. Step two.' }, { text: 'Done.' }] });
    const client = bedrock.client();
    const response = await client.send(
      new ConverseStreamCommand({ modelId: THINKER, messages: [user('think')] }),
    );
    const out = await readStream(response.stream);
    const [reasoning] = out.reasoning;
    expect(reasoning?.text).toBe('Step one. Step two.');
    rig.emulator.enqueue({ blocks: [{ text: 'Again.' }] });
    const back: ContentBlock = { reasoningContent: { reasoningText: { ...reasoning! } } };
    const next = await converse({ messages: followUp([back, { text: out.text }]) });
    expect(next.stopReason).toBe('end_turn');
  });

  it('refuses reasoning whose text was changed, naming Anthropic’s block index', async () => {
    const [reasoning] = await received({ blocks: [{ reasoning: 'Think.' }, { text: 'Done.' }] });
    const text = reasoning?.reasoningContent?.reasoningText;
    const changed: ContentBlock = {
      reasoningContent: { reasoningText: { text: 'Think harder.', signature: text?.signature } },
    };
    // The cache point becomes a flag on the text before it: Anthropic counts the reasoning 1.
    const message = await refusal({
      modelId: 'anthropic.claude-3-7-sonnet-20250219-v1:0',
      messages: followUp([{ text: 'Sure.' }, { cachePoint: { type: 'default' } }, changed]),
    });
    expect(message).toBe(
      `${ERRORS}messages.1.content.1: Invalid \`signature\` in \`thinking\` block`,
    );
  });

  it('sends no signature when the script says null, and then refuses the block', async () => {
    const content = await received({ blocks: [{ reasoning: 'Think.', signature: null }] });
    expect(content).toEqual([{ reasoningContent: { reasoningText: { text: 'Think.' } } }]);
    expect(await refusal({ messages: followUp(content) })).toBe(
      `${ERRORS}messages.1.content.0.thinking.signature: Field required`,
    );
  });

  it('sends a given signature as is, which is not the emulator’s', async () => {
    const content = await received({ blocks: [{ reasoning: 'Think.', signature: 'sig-1' }] });
    expect(content[0]?.reasoningContent?.reasoningText?.signature).toBe('sig-1');
    expect(await refusal({ messages: followUp(content) })).toMatch(/Invalid `signature`/);
  });

  it('sends redacted reasoning as bytes and takes it back as is', async () => {
    const bytes = new Uint8Array([1, 2, 3, 250, 0, 128]);
    const content = await received({ blocks: [{ redactedReasoning: bytes }, { text: 'Done.' }] });
    expect(content[0]?.reasoningContent?.redactedContent).toEqual(bytes);
    rig.emulator.enqueue({ blocks: [{ redactedReasoning: bytes }] });
    const response = await bedrock
      .client()
      .send(new ConverseStreamCommand({ modelId: THINKER, messages: followUp(content) }));
    expect((await readStream(response.stream)).redacted).toEqual([bytes]);
  });
});

describe('a tool round with thinking on', () => {
  const use: ContentBlock = {
    toolUse: { toolUseId: 't1', name: 'current_time', input: {} },
  };
  const round = (assistant: ContentBlock[]): Message[] => [
    user('time?'),
    { role: 'assistant', content: assistant },
    { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: '12:00' }] } }] },
  ];
  const expected = (found: string) =>
    `${ERRORS}messages.1.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${found}\`. ` +
    'When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). ' +
    'We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

  it.each([
    ['tool_use', [use]],
    ['text', [{ text: 'Checking.' }, use]],
  ])('refuses an assistant message that starts with %s', async (found, assistant) => {
    const message = await refusal({
      messages: round(assistant),
      toolConfig: TOOLS,
      additionalModelRequestFields: THINKING,
    });
    expect(message).toBe(expected(found));
  });

  it('accepts one that starts with its reasoning, redacted or not, or thinking off', async () => {
    const [reasoning] = await received({ blocks: [{ reasoning: 'Need the time.' }] });
    const redacted: ContentBlock = { reasoningContent: { redactedContent: new Uint8Array([7]) } };
    const cases: [ContentBlock[], typeof THINKING | undefined][] = [
      [[reasoning!, use], THINKING],
      [[redacted, use], THINKING],
      [[use], undefined],
    ];
    for (const [assistant, fields] of cases) {
      rig.emulator.enqueue({ blocks: [{ text: 'Noon.' }] });
      const response = await converse({
        messages: round(assistant),
        toolConfig: TOOLS,
        additionalModelRequestFields: fields,
      });
      expect(response.output?.message?.content).toEqual([{ text: 'Noon.' }]);
    }
  });
});

describe('the demo script with thinking on', () => {
  it('starts each reply with signed reasoning, through a tool round', async () => {
    const ask = user('What time is it in Tokyo?');
    const thinking = { toolConfig: TOOLS, additionalModelRequestFields: THINKING };
    const first = await converse({ messages: [ask], ...thinking });
    const content = first.output?.message?.content ?? [];
    expect(content[0]?.reasoningContent?.reasoningText).toEqual({
      text: 'This needs current_time; I will call it.',
      signature: expect.stringMatching(/=$/),
    });
    expect(content[1]).toEqual({ text: 'Let me check the time.' });
    const toolUseId = content[2]?.toolUse?.toolUseId;
    const second = await converse({
      messages: [
        ask,
        { role: 'assistant', content },
        { role: 'user', content: [{ toolResult: { toolUseId, content: [{ text: '21:05:33' }] } }] },
      ],
      ...thinking,
    });
    expect(second.output?.message?.content?.map((block) => Object.keys(block)[0])).toEqual([
      'reasoningContent',
      'text',
    ]);
    expect(second.output?.message?.content?.[1]).toEqual({ text: 'It is 21:05:33 in Asia/Tokyo.' });
  });

  it('streams no reasoning with thinking off', async () => {
    const response = await bedrock
      .client()
      .send(new ConverseStreamCommand({ modelId: THINKER, messages: [user('Hello')] }));
    const out = await readStream(response.stream);
    expect(out.reasoning).toEqual([]);
    expect(out.text).toMatch(/^You said/);
  });
});
