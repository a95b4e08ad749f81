import { describe, expect, it } from 'vitest';
import {
  ACCEPTED_MODEL_FORMS,
  isAwsRegion,
  ModelEntryError,
  parseModelEntry,
  parseModelList,
} from '../../src/providers/bedrock/model-registry.ts';

const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const SONNET_V2 = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
const ACCOUNT = '123456789012';

/** Checks that a message names the entry and lists every accepted form. */
function expectNamesEntryAndForms(message: string, entry: string): void {
  expect(message).toContain(`"${entry}"`);
  expect(message).toContain('Accepted forms');
  for (const form of ACCEPTED_MODEL_FORMS) expect(message).toContain(form);
}

describe('parseModelEntry accepted forms', () => {
  it('parses a model ID in the default region', () => {
    expect(parseModelEntry(HAIKU, 'eu-west-3')).toEqual({
      id: HAIKU,
      modelId: HAIKU,
      region: 'eu-west-3',
      kind: 'model-id',
      label: 'Claude 3.5 Haiku',
    });
  });

  it.each([
    ['us', 'US'],
    ['eu', 'EU'],
    ['apac', 'APAC'],
  ])('parses a %s. cross-region inference profile ID', (prefix, geo) => {
    const entry = `${prefix}.${SONNET_V2}`;
    expect(parseModelEntry(entry, 'us-west-2')).toEqual({
      id: entry,
      modelId: entry,
      region: 'us-west-2',
      kind: 'inference-profile-id',
      label: `Claude 3.5 Sonnet v2 (${geo} cross-region)`,
    });
  });

  it("parses a foundation-model ARN in the ARN's region", () => {
    const entry = `arn:aws:bedrock:eu-central-1::foundation-model/${HAIKU}`;
    expect(parseModelEntry(entry, 'us-east-1')).toEqual({
      id: entry,
      modelId: entry,
      region: 'eu-central-1',
      kind: 'foundation-model-arn',
      label: 'Claude 3.5 Haiku',
    });
  });

  it("parses an inference-profile ARN in the ARN's region", () => {
    const entry = `arn:aws:bedrock:eu-west-1:${ACCOUNT}:inference-profile/eu.${HAIKU}`;
    expect(parseModelEntry(entry, 'us-east-1')).toEqual({
      id: entry,
      modelId: entry,
      region: 'eu-west-1',
      kind: 'inference-profile-arn',
      label: 'Claude 3.5 Haiku (EU cross-region)',
    });
  });

  it("parses an application-inference-profile ARN in the ARN's region", () => {
    const entry = `arn:aws:bedrock:ap-northeast-1:${ACCOUNT}:application-inference-profile/a1b2c3d4e5f6`;
    const model = parseModelEntry(entry, 'us-east-1');
    expect(model).toMatchObject({
      id: entry,
      modelId: entry,
      region: 'ap-northeast-1',
      kind: 'application-inference-profile-arn',
    });
    expect(model.label).toContain('a1b2c3d4e5f6');
  });

  it('trims spaces around an entry', () => {
    const model = parseModelEntry(`  ${HAIKU} `, 'us-east-1');
    expect(model.id).toBe(HAIKU);
    expect(model.modelId).toBe(HAIKU);
  });

  it('labels an unknown model with its ID', () => {
    const entry = 'meta.llama3-1-8b-instruct-v1:0';
    expect(parseModelEntry(entry, 'us-east-1')).toMatchObject({ kind: 'model-id', label: entry });
  });

  it.each([
    [SONNET_V2, 'Claude 3.5 Sonnet v2'],
    [HAIKU, 'Claude 3.5 Haiku'],
    ['anthropic.claude-3-opus-20240229-v1:0', 'Claude 3 Opus'],
    ['anthropic.claude-3-sonnet-20240229-v1:0', 'Claude 3 Sonnet'],
    ['anthropic.claude-3-haiku-20240307-v1:0', 'Claude 3 Haiku'],
  ])('labels %s as %s in every form', (modelId, label) => {
    expect(parseModelEntry(modelId, 'us-east-1').label).toBe(label);
    expect(
      parseModelEntry(`arn:aws:bedrock:us-west-2::foundation-model/${modelId}`, 'us-east-1').label,
    ).toBe(label);
    expect(parseModelEntry(`us.${modelId}`, 'us-east-1').label).toBe(`${label} (US cross-region)`);
  });
});

describe('parseModelEntry malformed entries', () => {
  it.each([
    ['garbage', 'not-a-model'],
    ['text with spaces', 'claude haiku'],
    ['an ARN with an empty resource', 'arn:aws:bedrock:us-east-1::foundation-model/'],
    ['a provisioned-model ARN', `arn:aws:bedrock:us-east-1:${ACCOUNT}:provisioned-model/abc123`],
    ['an ARN of another service', `arn:aws:s3:::bucket/${HAIKU}`],
    ['an ARN with a bad region', `arn:aws:bedrock:moon-1::foundation-model/${HAIKU}`],
    ['an ARN with a partial region', `arn:aws:bedrock:us-east::foundation-model/${HAIKU}`],
    [
      'a foundation-model ARN with an account ID',
      `arn:aws:bedrock:us-east-1:${ACCOUNT}:foundation-model/${HAIKU}`,
    ],
    [
      'an inference-profile ARN without an account ID',
      `arn:aws:bedrock:us-east-1::inference-profile/us.${HAIKU}`,
    ],
    [
      'an application-inference-profile ARN without an account ID',
      'arn:aws:bedrock:us-east-1::application-inference-profile/a1b2c3d4e5f6',
    ],
    [
      'an ARN with a short account ID',
      `arn:aws:bedrock:us-east-1:1234:inference-profile/us.${HAIKU}`,
    ],
  ])('refuses %s, naming it and the accepted forms', (_what, entry) => {
    let thrown: unknown;
    try {
      parseModelEntry(entry, 'us-east-1');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ModelEntryError);
    expectNamesEntryAndForms((thrown as Error).message, entry);
  });

  it('says why a foundation-model ARN with an account ID is refused', () => {
    expect(() =>
      parseModelEntry(
        `arn:aws:bedrock:us-east-1:${ACCOUNT}:foundation-model/${HAIKU}`,
        'us-east-1',
      ),
    ).toThrow(/no account ID/);
  });

  it('says why an ARN with a bad region is refused', () => {
    expect(() =>
      parseModelEntry(`arn:aws:bedrock:moon-1::foundation-model/${HAIKU}`, 'us-east-1'),
    ).toThrow(/"moon-1" is not an AWS region/);
  });
});

describe('parseModelList', () => {
  it('parses every form in order, the first being the default', () => {
    const entries = [
      HAIKU,
      `us.${SONNET_V2}`,
      `arn:aws:bedrock:eu-west-1::foundation-model/${HAIKU}`,
      `arn:aws:bedrock:us-west-2:${ACCOUNT}:inference-profile/us.${HAIKU}`,
      `arn:aws:bedrock:us-east-2:${ACCOUNT}:application-inference-profile/xyz789`,
    ];
    const { models, errors } = parseModelList(entries.join(','), 'ca-central-1');
    expect(errors).toEqual([]);
    expect(models.map((m) => [m.id, m.kind, m.region])).toEqual([
      [entries[0], 'model-id', 'ca-central-1'],
      [entries[1], 'inference-profile-id', 'ca-central-1'],
      [entries[2], 'foundation-model-arn', 'eu-west-1'],
      [entries[3], 'inference-profile-arn', 'us-west-2'],
      [entries[4], 'application-inference-profile-arn', 'us-east-2'],
    ]);
  });

  it('skips blank entries from a trailing or doubled comma', () => {
    const { models, errors } = parseModelList(` ${HAIKU} ,, ${SONNET_V2}, ,`, 'us-east-1');
    expect(errors).toEqual([]);
    expect(models.map((m) => m.id)).toEqual([HAIKU, SONNET_V2]);
  });

  it('reports a repeated entry by name, once', () => {
    const { models, errors } = parseModelList(`${HAIKU},${SONNET_V2}, ${HAIKU}`, 'us-east-1');
    expect(models.map((m) => m.id)).toEqual([HAIKU, SONNET_V2]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(`"${HAIKU}"`);
    expect(errors[0]).toMatch(/twice/);
  });

  it('reports every malformed entry and keeps the good ones', () => {
    const { models, errors } = parseModelList(
      `bad one,${HAIKU},arn:aws:bedrock:us-east-1::foundation-model/`,
      'us-east-1',
    );
    expect(models.map((m) => m.id)).toEqual([HAIKU]);
    expect(errors).toHaveLength(2);
    expectNamesEntryAndForms(errors[0]!, 'bad one');
    expectNamesEntryAndForms(errors[1]!, 'arn:aws:bedrock:us-east-1::foundation-model/');
  });

  it.each(['', ' ', ',', ' , ,'])('reports the empty list %j', (list) => {
    const { models, errors } = parseModelList(list, 'us-east-1');
    expect(models).toEqual([]);
    expect(errors).toEqual(['BEDROCK_MODEL_ARNS names no model.']);
  });
});

describe('isAwsRegion', () => {
  it.each(['us-east-1', 'eu-central-2', 'ap-southeast-4', 'us-gov-west-1', 'il-central-1'])(
    'accepts %s',
    (region) => {
      expect(isAwsRegion(region)).toBe(true);
    },
  );

  it.each(['', 'us-east', 'US-EAST-1', 'mars', 'us_east_1', 'us-east-1a'])(
    'refuses %j',
    (region) => {
      expect(isAwsRegion(region)).toBe(false);
    },
  );
});
