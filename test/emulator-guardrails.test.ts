import {
  ConverseCommand,
  type ConverseCommandInput,
  ConverseStreamCommand,
  type ConverseStreamOutput,
  type GuardrailStreamConfiguration,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCKED_MESSAGE } from './emulator/index.ts';
import { readStream, rejection, statusOf, useEmulator, user } from './helpers/bedrock.ts';

const MODEL = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const GUARDRAIL = {
  guardrailIdentifier: 'gr1abc',
  guardrailVersion: 'DRAFT',
  trace: 'enabled',
} as const;

const rig = useEmulator();
const { bedrock } = rig;

function input(text: string, guardrailConfig?: GuardrailStreamConfiguration) {
  return { modelId: MODEL, messages: [user(text)], ...(guardrailConfig && { guardrailConfig }) };
}

/** Every event of a stream, as the SDK gives them. */
async function events(guardrailConfig?: GuardrailStreamConfiguration, text = 'go') {
  const response = await bedrock
    .client()
    .send(new ConverseStreamCommand(input(text, guardrailConfig)));
  const seen: ConverseStreamOutput[] = [];
  for await (const event of response.stream ?? []) seen.push(event);
  return seen;
}

describe('guardrailConfig validation', () => {
  const violation = (value: string, field: string, constraint: string) =>
    `1 validation error detected: Value ${value} at 'guardrailConfig.${field}' failed to satisfy constraint: ${constraint}`;

  it.each<[string, Record<string, string>, string]>([
    [
      'no identifier',
      { guardrailVersion: '1' },
      violation('null', 'guardrailIdentifier', 'Member must not be null'),
    ],
    [
      'no version',
      { guardrailIdentifier: 'gr1abc' },
      violation('null', 'guardrailVersion', 'Member must not be null'),
    ],
    [
      'a version that is neither DRAFT nor a number',
      { guardrailIdentifier: 'gr1abc', guardrailVersion: 'v1' },
      violation(
        "'v1'",
        'guardrailVersion',
        'Member must satisfy regular expression pattern: ^(([1-9][0-9]{0,7})|(DRAFT))$',
      ),
    ],
    [
      'an identifier with spaces',
      { guardrailIdentifier: 'my guardrail', guardrailVersion: '1' },
      violation(
        "'my guardrail'",
        'guardrailIdentifier',
        'Member must satisfy regular expression pattern: ^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$',
      ),
    ],
    [
      'an unknown trace',
      { guardrailIdentifier: 'gr1abc', guardrailVersion: '1', trace: 'on' },
      violation(
        "'on'",
        'trace',
        'Member must satisfy enum value set: [enabled, disabled, enabled_full]',
      ),
    ],
  ])('refuses %s, over both operations', async (_case, config, message) => {
    const client = bedrock.client();
    const guardrailConfig = config as GuardrailStreamConfiguration;
    for (const command of [
      new ConverseCommand(input('hi', guardrailConfig)),
      new ConverseStreamCommand(input('hi', guardrailConfig)),
    ]) {
      const error = await rejection(client.send(command as ConverseCommand));
      expect(error.name).toBe('ValidationException');
      expect(statusOf(error)).toBe(400);
      expect(error.message).toBe(message);
    }
  });

  it('refuses an unknown streamProcessingMode', async () => {
    const error = await rejection(events({ ...GUARDRAIL, streamProcessingMode: 'fast' as 'sync' }));
    expect(error.message).toBe(
      violation(
        "'fast'",
        'streamProcessingMode',
        'Member must satisfy enum value set: [sync, async]',
      ),
    );
  });

  it('accepts an ARN, a numbered version, a full trace and async processing', async () => {
    rig.emulator.enqueue({ blocks: [{ text: 'Fine.' }] });
    const seen = await events({
      guardrailIdentifier: 'arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc',
      guardrailVersion: '12',
      trace: 'enabled_full',
      streamProcessingMode: 'async',
    });
    expect(seen.at(-2)?.messageStop?.stopReason).toBe('end_turn');
  });
});

describe('a guardrail intervention', () => {
  it('streams the events before it, then the blocked message and the output assessment', async () => {
    rig.emulator.enqueue({
      blocks: [{ text: 'The secret plan is this.' }],
      chunkChars: 4,
      guardrail: { afterEvents: 3, policy: { contentFilter: 'MISCONDUCT' } },
    });
    const seen = await events(GUARDRAIL);
    expect(seen.slice(0, -1)).toEqual([
      { messageStart: { role: 'assistant' } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'The ' } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { text: 'secr' } } },
      { contentBlockStop: { contentBlockIndex: 0 } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { text: DEFAULT_BLOCKED_MESSAGE } } },
      { contentBlockStop: { contentBlockIndex: 1 } },
      { messageStop: { stopReason: 'guardrail_intervened' } },
    ]);
    const guardrail = seen.at(-1)?.metadata?.trace?.guardrail;
    expect(guardrail?.inputAssessment).toBeUndefined();
    expect(guardrail?.modelOutput).toEqual(['The secret plan is this.']);
    expect(guardrail?.outputAssessments?.gr1abc?.[0]?.contentPolicy?.filters).toEqual([
      {
        type: 'MISCONDUCT',
        confidence: 'HIGH',
        filterStrength: 'HIGH',
        action: 'BLOCKED',
        detected: true,
      },
    ]);
    expect(guardrail?.actionReason).toBe('Guardrail blocked.');
  });

  it('blocks the prompt before any answer, and sends no trace unless asked', async () => {
    rig.emulator.enqueue({ blocks: [{ text: 'Never sent.' }], guardrail: {} });
    const response = await bedrock
      .client()
      .send(new ConverseStreamCommand(input('go', { ...GUARDRAIL, trace: 'disabled' })));
    const out = await readStream(response.stream);
    expect(out.events).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(out.text).toBe(DEFAULT_BLOCKED_MESSAGE);
    expect(out.stopReason).toBe('guardrail_intervened');
    expect(out.trace).toBeUndefined();
    expect(out.usage?.outputTokens).toBe(0);
  });

  it('answers converse with the blocked message and the trace at top level', async () => {
    rig.emulator.enqueue({
      blocks: [{ text: 'Never sent.' }],
      guardrail: { blockedMessage: 'That topic is off limits.', policy: { topic: 'Finance' } },
    });
    const response = await bedrock.client().send(
      new ConverseCommand({
        ...input('Tell me about stocks.'),
        guardrailConfig: {
          ...GUARDRAIL,
          guardrailIdentifier: 'arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc',
        },
      }),
    );
    expect(response.output?.message?.content).toEqual([{ text: 'That topic is off limits.' }]);
    expect(response.stopReason).toBe('guardrail_intervened');
    const assessment = response.trace?.guardrail?.inputAssessment?.gr1abc;
    expect(assessment?.topicPolicy?.topics).toEqual([
      { name: 'Finance', type: 'DENY', action: 'BLOCKED', detected: true },
    ]);
    expect(assessment?.appliedGuardrailDetails).toMatchObject({
      guardrailId: 'gr1abc',
      guardrailVersion: 'DRAFT',
    });
  });

  it('is a test bug on a request without guardrailConfig: the client gets a server error', async () => {
    rig.emulator.enqueue({ blocks: [{ text: 'x' }], guardrail: {} });
    const error = await rejection(bedrock.client().send(new ConverseCommand(input('go'))));
    expect(error.name).toBe('InternalServerException');
    expect(error.message).toMatch(/guardrail intervention, but the request has no guardrailConfig/);
  });

  it('cannot be combined with failAfterEvents or hangAfterEvents', () => {
    const failing = { events: 1, exception: 'throttlingException' } as const;
    expect(() =>
      rig.emulator.enqueue({ blocks: [{ text: 'x' }], guardrail: {}, failAfterEvents: failing }),
    ).toThrow(/guardrail intervention cannot be combined/);
    expect(() =>
      rig.emulator.enqueue({ blocks: [{ text: 'x' }], guardrail: {}, hangAfterEvents: 1 }),
    ).toThrow(/guardrail intervention cannot be combined/);
  });
});

describe('the demo script under a guardrail', () => {
  async function demo(
    text: string,
    guardrailConfig?: Partial<ConverseCommandInput>['guardrailConfig'],
  ) {
    const response = await bedrock
      .client()
      .send(new ConverseCommand({ ...input(text), guardrailConfig }));
    return response;
  }

  it('is blocked by a word policy when the user says "forbidden"', async () => {
    const response = await demo('Tell me the Forbidden recipe.', GUARDRAIL);
    expect(response.output?.message?.content).toEqual([{ text: DEFAULT_BLOCKED_MESSAGE }]);
    expect(response.stopReason).toBe('guardrail_intervened');
    expect(response.trace?.guardrail?.inputAssessment?.gr1abc?.wordPolicy?.customWords).toEqual([
      { match: 'forbidden', action: 'BLOCKED', detected: true },
    ]);
  });

  it('answers as usual without a guardrail, or without the word', async () => {
    const unguarded = await demo('Tell me the forbidden recipe.');
    expect(unguarded.stopReason).toBe('end_turn');
    expect(unguarded.output?.message?.content?.[0]?.text).toMatch(/^You said/);
    const plain = await demo('Tell me the secret recipe.', GUARDRAIL);
    expect(plain.stopReason).toBe('end_turn');
    expect(plain.trace).toBeUndefined();
  });
});
