import {
  type ContentBlock,
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type Message,
  type SystemContentBlock,
  type Tool,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from './emulator/index.ts';
import { BedrockClients, readStream, rejection, statusOf, user } from './helpers/bedrock.ts';

const SONNET = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
const HAIKU_35 = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const NOVA = 'amazon.nova-pro-v1:0';

/** 1,200 tokens: over the 1,024 most models cache from. */
const LONG = 'x'.repeat(4_800);
const POINT: ContentBlock = { cachePoint: { type: 'default' } };
const REPLY = 'Cached.';

/** The emulator's estimate of a prompt of these blocks: a quarter of the characters, joined. */
function tokens(...texts: string[]): number {
  return Math.ceil(texts.join('\n').length / 4);
}

const OUTPUT = tokens(REPLY);

let emulator: Emulator;
let clock = 0;
const bedrock = new BedrockClients(() => emulator.url);

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0, now: () => clock });
});

afterAll(() => emulator.close());

beforeEach(() => {
  emulator.reset();
  clock = 1_000_000;
});

afterEach(() => bedrock.destroyAll());

function cachedSystem(ttl?: '5m' | '1h'): SystemContentBlock[] {
  return [{ text: LONG }, { cachePoint: { type: 'default', ...(ttl && { ttl }) } }];
}

async function converse(input: Partial<ConverseCommandInput> & { messages: Message[] }) {
  emulator.enqueue({ blocks: [{ text: REPLY }] });
  const response = await bedrock.client().send(new ConverseCommand({ modelId: SONNET, ...input }));
  return response.usage;
}

/** The usage of a prompt of `total` tokens that read `read` and wrote `write` of them. */
function usage(total: number, read: number, write: number) {
  return {
    inputTokens: total - read - write,
    outputTokens: OUTPUT,
    totalTokens: total + OUTPUT,
    cacheReadInputTokens: read,
    cacheWriteInputTokens: write,
  };
}

describe('prompt cache accounting', () => {
  const total = tokens(LONG, 'Hi there');
  const request = { system: cachedSystem(), messages: [user('Hi there')] };

  it('writes a cached system prompt, then reads it', async () => {
    expect(await converse(request)).toEqual(usage(total, 0, tokens(LONG)));
    expect(await converse(request)).toEqual(usage(total, tokens(LONG), 0));
  });

  it('reports both cache fields in the stream metadata', async () => {
    const client = bedrock.client();
    const reads = [];
    for (let i = 0; i < 2; i++) {
      emulator.enqueue({ blocks: [{ text: REPLY }] });
      const response = await client.send(
        new ConverseStreamCommand({ modelId: SONNET, ...request }),
      );
      reads.push((await readStream(response.stream)).usage);
    }
    expect(reads).toEqual([usage(total, 0, tokens(LONG)), usage(total, tokens(LONG), 0)]);
  });

  it('reports zeros for a cache point before the minimum, and no cache fields without one', async () => {
    const short = await converse({
      system: [{ text: 'Be brief.' }, POINT],
      messages: [user('Hi there')],
    });
    expect(short).toEqual(usage(tokens('Be brief.', 'Hi there'), 0, 0));
    const plain = await converse({ system: [{ text: LONG }], messages: [user('Hi there')] });
    expect(plain).toEqual({
      inputTokens: total,
      outputTokens: OUTPUT,
      totalTokens: total + OUTPUT,
    });
  });

  it('keeps a cache per model', async () => {
    await converse(request);
    const other = await converse({
      modelId: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      ...request,
    });
    expect(other).toEqual(usage(total, 0, tokens(LONG)));
    expect(await converse(request)).toEqual(usage(total, tokens(LONG), 0));
  });

  it('writes the longest prefix past the read and counts the write from the read', async () => {
    const first = await converse({
      system: cachedSystem(),
      messages: [{ role: 'user', content: [{ text: LONG }, POINT, { text: 'question' }] }],
    });
    // Both points are written; the write is the longer prefix.
    expect(first).toEqual(usage(tokens(LONG, LONG, 'question'), 0, tokens(LONG, LONG)));
    const other = 'y'.repeat(LONG.length);
    const second = await converse({
      system: cachedSystem(),
      messages: [{ role: 'user', content: [{ text: other }, { text: 'more' }, POINT] }],
    });
    // The system prefix is read; the message differs, so its point writes from there.
    const total = tokens(LONG, other, 'more');
    expect(second).toEqual(usage(total, tokens(LONG), total - tokens(LONG)));
  });

  it('reads a prefix found up to 20 blocks before a cache point, not 21', async () => {
    const blocks = (from: number, to: number): ContentBlock[] =>
      Array.from({ length: to - from }, (_, i) => ({ text: `block ${from + i}` }));
    const texts = (from: number, to: number) => blocks(from, to).map((block) => block.text ?? '');
    const system = [{ text: LONG }];
    await converse({ system, messages: [{ role: 'user', content: [...blocks(0, 3), POINT] }] });
    const prefix = tokens(LONG, ...texts(0, 3));

    // The earlier point sits 20 blocks back: read, and the rest written.
    const near = await converse({
      system,
      messages: [{ role: 'user', content: [...blocks(0, 23), POINT] }],
    });
    const nearTotal = tokens(LONG, ...texts(0, 23));
    expect(near).toEqual(usage(nearTotal, prefix, nearTotal - prefix));

    emulator.reset();
    await converse({ system, messages: [{ role: 'user', content: [...blocks(0, 3), POINT] }] });
    const far = await converse({
      system,
      messages: [{ role: 'user', content: [...blocks(0, 24), POINT] }],
    });
    const farTotal = tokens(LONG, ...texts(0, 24));
    expect(far).toEqual(usage(farTotal, 0, farTotal));
  });

  it('reads in Bedrock order: a different tool misses the system prefix behind it', async () => {
    const tool = (name: string): Tool => ({
      toolSpec: { name, inputSchema: { json: { type: 'object' } } },
    });
    const withTool = (name: string) => ({
      toolConfig: { tools: [tool(name)] },
      system: cachedSystem(),
      messages: [user('Hi there')],
    });
    const toolText = (name: string) => JSON.stringify(tool(name).toolSpec);
    const write = (name: string) => tokens(toolText(name), LONG);
    const all = (name: string) => tokens(toolText(name), LONG, 'Hi there');
    expect(await converse(withTool('alpha'))).toEqual(usage(all('alpha'), 0, write('alpha')));
    expect(await converse(withTool('gamma'))).toEqual(usage(all('gamma'), 0, write('gamma')));
    expect(await converse(withTool('alpha'))).toEqual(usage(all('alpha'), write('alpha'), 0));
  });

  it('lets an entry live 5 minutes from its last read', async () => {
    await converse(request);
    clock += 4 * 60_000;
    expect((await converse(request))?.cacheReadInputTokens).toBe(tokens(LONG));
    clock += 4 * 60_000;
    expect((await converse(request))?.cacheReadInputTokens).toBe(tokens(LONG));
    clock += 5 * 60_000;
    expect(await converse(request)).toEqual(usage(total, 0, tokens(LONG)));
  });

  it('lets a 1h entry live past 5 minutes', async () => {
    const hour = { system: cachedSystem('1h'), messages: [user('Hi there')] };
    await converse(hour);
    clock += 59 * 60_000;
    expect((await converse(hour))?.cacheReadInputTokens).toBe(tokens(LONG));
    clock += 60 * 60_000 + 1;
    expect((await converse(hour))?.cacheReadInputTokens).toBe(0);
  });

  it('is cleared by reset()', async () => {
    await converse(request);
    emulator.reset();
    expect(await converse(request)).toEqual(usage(total, 0, tokens(LONG)));
  });

  it.each([
    [HAIKU_35, 0],
    ['us.anthropic.claude-haiku-4-5-20251001-v1:0', 0],
    ['global.anthropic.claude-opus-4-5-20251101-v1:0', 0],
    [NOVA, tokens(LONG)],
    ['anthropic.claude-opus-4-1-20250805-v1:0', tokens(LONG)],
  ])('applies the minimum prefix of %s (1,200 tokens cached: %i)', async (modelId, written) => {
    expect(await converse({ modelId, ...request })).toEqual(usage(total, 0, written));
  });

  it('lets a scripted usage set the cache fields', async () => {
    emulator.enqueue({
      blocks: [{ text: 'x' }],
      usage: { inputTokens: 5, outputTokens: 2, cacheReadInputTokens: 100 },
    });
    const response = await bedrock
      .client()
      .send(new ConverseCommand({ modelId: SONNET, messages: [user('hi')] }));
    expect(response.usage).toEqual({
      inputTokens: 5,
      outputTokens: 2,
      totalTokens: 107,
      cacheReadInputTokens: 100,
      cacheWriteInputTokens: 0,
    });
  });
});

describe('models that cache', () => {
  it.each([
    SONNET,
    'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
    'eu.anthropic.claude-sonnet-4-5-20250929-v1:0',
    'anthropic.claude-opus-4-20250514-v1:0',
    'us.amazon.nova-micro-v1:0',
    'amazon.nova-lite-v1:0',
    'us.amazon.nova-premier-v1:0',
    `arn:aws:bedrock:us-east-1::foundation-model/${SONNET}`,
    `arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.${SONNET}`,
    'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123',
  ])('accepts a cache point for %s', async (modelId) => {
    const used = await converse({ modelId, system: cachedSystem(), messages: [user('hi')] });
    expect(used?.cacheWriteInputTokens).toBe(tokens(LONG));
  });

  it.each([
    'anthropic.claude-3-haiku-20240307-v1:0',
    'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
    'meta.llama3-70b-instruct-v1:0',
    'amazon.titan-text-express-v1',
  ])('refuses a cache point for %s', async (modelId) => {
    const error = await rejection(
      converse({ modelId, system: cachedSystem(), messages: [user('hi')] }),
    );
    expect(error.name).toBe('ValidationException');
    expect(statusOf(error)).toBe(400);
    expect(error.message).toBe(
      'You invoked an unsupported model or your request did not allow prompt caching. See the documentation for more information.',
    );
  });
});

describe('cache point validation', () => {
  async function signedReasoning(): Promise<ContentBlock> {
    emulator.enqueue({ blocks: [{ reasoning: 'Think.' }, { text: 'Done.' }] });
    const response = await bedrock
      .client()
      .send(new ConverseCommand({ modelId: SONNET, messages: [user('think')] }));
    const [reasoning] = response.output?.message?.content ?? [];
    if (!reasoning) throw new Error('no reasoning block');
    return reasoning;
  }

  it.each<[string, string, Partial<ConverseCommandInput>, string | RegExp]>([
    [
      'more than four cache points',
      SONNET,
      {
        system: cachedSystem(),
        messages: [
          {
            role: 'user',
            content: [
              { text: 'a' },
              POINT,
              { text: 'b' },
              POINT,
              { text: 'c' },
              POINT,
              { text: 'd' },
              POINT,
            ],
          },
        ],
      },
      'The model returned the following errors: A maximum of 4 blocks with cache_control may be provided. Found 5.',
    ],
    [
      'more than four cache points for Nova',
      NOVA,
      {
        system: cachedSystem(),
        messages: [
          {
            role: 'user',
            content: [
              { text: 'a' },
              POINT,
              { text: 'b' },
              POINT,
              { text: 'c' },
              POINT,
              { text: 'd' },
              POINT,
            ],
          },
        ],
      },
      /5 cache points, more than the maximum of 4/,
    ],
    [
      'a cache point in Nova tools',
      NOVA,
      {
        toolConfig: {
          tools: [
            { toolSpec: { name: 'a', inputSchema: { json: {} } } },
            { cachePoint: { type: 'default' } },
          ],
        },
        messages: [user('hi')],
      },
      'Malformed input request: #/toolConfig/tools/1: extraneous key [cachePoint] is not permitted, please reformat your input and try again.',
    ],
    [
      'a cache point first in a message',
      SONNET,
      { messages: [{ role: 'user', content: [POINT, { text: 'hi' }] }] },
      'There is nothing available to cache.',
    ],
    [
      'a cache point first in system',
      SONNET,
      { system: [{ cachePoint: { type: 'default' } }, { text: LONG }], messages: [user('hi')] },
      'There is nothing available to cache.',
    ],
    [
      'an unknown cache point type',
      SONNET,
      {
        messages: [
          {
            role: 'user',
            content: [{ text: 'hi' }, { cachePoint: { type: 'ephemeral' as 'default' } }],
          },
        ],
      },
      "1 validation error detected: Value 'ephemeral' at 'messages.1.member.content.2.member.cachePoint.type' failed to satisfy constraint: Member must satisfy enum value set: [default]",
    ],
    [
      'an unknown ttl',
      SONNET,
      {
        system: [{ text: LONG }, { cachePoint: { type: 'default', ttl: '10m' as '5m' } }],
        messages: [user('hi')],
      },
      "1 validation error detected: Value '10m' at 'system.2.member.cachePoint.ttl' failed to satisfy constraint: Member must satisfy enum value set: [5m, 1h]",
    ],
  ])('refuses %s', async (_case, modelId, extra, message) => {
    const error = await rejection(converse({ modelId, messages: [], ...extra }));
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(message);
    expect(emulator.requests.at(-1)?.status).toBe(400);
  });

  it('refuses a cache point right after a reasoning block, and takes it after text', async () => {
    const reasoning = await signedReasoning();
    const conversation = (assistant: ContentBlock[]): Message[] => [
      user('think'),
      { role: 'assistant', content: assistant },
      user('and now?'),
    ];
    const error = await rejection(
      converse({ messages: conversation([reasoning, POINT, { text: 'Done.' }]) }),
    );
    expect(error.message).toBe(
      'Cache point cannot be inserted after reasoning block. Please remove the invalid cache point and try again.',
    );
    const used = await converse({ messages: conversation([reasoning, { text: 'Done.' }, POINT]) });
    expect(used?.cacheWriteInputTokens).toBe(0);
  });
});
