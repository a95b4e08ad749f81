import { PROFILE_GEOS } from './model-features.ts';

/**
 * Parses BEDROCK_MODEL_ARNS entries into model descriptors. Bedrock accepts every one of
 * these forms as the `modelId` of Converse, so the entry itself is what is sent.
 */
export type ModelKind =
  | 'model-id'
  | 'inference-profile-id'
  | 'foundation-model-arn'
  | 'inference-profile-arn'
  | 'application-inference-profile-arn';

export interface ModelEntry {
  /** The entry exactly as configured; what clients send as `model`. */
  readonly id: string;
  /** What is sent to Bedrock as `modelId`. */
  readonly modelId: string;
  readonly region: string;
  readonly kind: ModelKind;
  readonly label: string;
}

export const ACCEPTED_MODEL_FORMS = [
  'model ID: anthropic.claude-3-5-haiku-20241022-v1:0',
  'cross-region inference profile ID: us.anthropic.claude-3-5-haiku-20241022-v1:0',
  'foundation-model ARN: arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0',
  'inference-profile ARN: arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0',
  'application-inference-profile ARN: arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6',
];

const KNOWN_LABELS: Record<string, string> = {
  'anthropic.claude-3-5-sonnet-20241022-v2:0': 'Claude 3.5 Sonnet v2',
  'anthropic.claude-3-5-sonnet-20240620-v1:0': 'Claude 3.5 Sonnet',
  'anthropic.claude-3-5-haiku-20241022-v1:0': 'Claude 3.5 Haiku',
  'anthropic.claude-3-opus-20240229-v1:0': 'Claude 3 Opus',
  'anthropic.claude-3-sonnet-20240229-v1:0': 'Claude 3 Sonnet',
  'anthropic.claude-3-haiku-20240307-v1:0': 'Claude 3 Haiku',
  'anthropic.claude-3-7-sonnet-20250219-v1:0': 'Claude 3.7 Sonnet',
  'anthropic.claude-sonnet-4-20250514-v1:0': 'Claude Sonnet 4',
  'anthropic.claude-opus-4-20250514-v1:0': 'Claude Opus 4',
  'amazon.nova-pro-v1:0': 'Amazon Nova Pro',
  'amazon.nova-lite-v1:0': 'Amazon Nova Lite',
  'amazon.nova-micro-v1:0': 'Amazon Nova Micro',
};

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;
const MODEL_ID = /^[a-z][a-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9]+){0,2}$/;
const ARN =
  /^arn:aws(?:-cn|-us-gov)?:bedrock:([a-z0-9-]+):(\d{12})?:(foundation-model|inference-profile|application-inference-profile)\/(.+)$/;

export class ModelEntryError extends Error {
  constructor(entry: string, reason: string) {
    super(
      `BEDROCK_MODEL_ARNS entry "${entry}" is not a Bedrock model: ${reason}. Accepted forms:\n  ${ACCEPTED_MODEL_FORMS.join('\n  ')}`,
    );
    this.name = 'ModelEntryError';
  }
}

/** Parses one entry; `defaultRegion` applies to plain IDs, an ARN's own region wins. */
export function parseModelEntry(raw: string, defaultRegion: string): ModelEntry {
  const entry = raw.trim();
  const arn = ARN.exec(entry);
  if (arn) return parseArn(entry, arn);
  if (entry.startsWith('arn:')) {
    throw new ModelEntryError(entry, 'ARN is not a foundation-model or inference-profile ARN');
  }
  if (!MODEL_ID.test(entry)) throw new ModelEntryError(entry, 'not a model ID or ARN');
  const [prefix, ...rest] = entry.split('.');
  const geo = PROFILE_GEOS[prefix!];
  if (geo !== undefined && rest.length >= 2) {
    const base = rest.join('.');
    return {
      id: entry,
      modelId: entry,
      region: defaultRegion,
      kind: 'inference-profile-id',
      label: `${labelFor(base)} (${geo} cross-region)`,
    };
  }
  return {
    id: entry,
    modelId: entry,
    region: defaultRegion,
    kind: 'model-id',
    label: labelFor(entry),
  };
}

function parseArn(entry: string, match: RegExpExecArray): ModelEntry {
  const [, region, account, resource, name] = match as unknown as [
    string,
    string,
    string | undefined,
    string,
    string,
  ];
  if (!REGION.test(region)) throw new ModelEntryError(entry, `"${region}" is not an AWS region`);
  if (resource === 'foundation-model') {
    if (account) throw new ModelEntryError(entry, 'a foundation-model ARN has no account ID');
    if (!MODEL_ID.test(name)) throw new ModelEntryError(entry, `"${name}" is not a model ID`);
    return {
      id: entry,
      modelId: entry,
      region,
      kind: 'foundation-model-arn',
      label: labelFor(name),
    };
  }
  if (!account)
    throw new ModelEntryError(entry, `an ${resource} ARN needs the 12-digit account ID`);
  if (!/^[A-Za-z0-9._:-]+$/.test(name)) {
    throw new ModelEntryError(entry, `"${name}" is not an inference profile ID`);
  }
  if (resource === 'inference-profile') {
    const geo = PROFILE_GEOS[name.split('.')[0]!];
    const base = geo ? name.split('.').slice(1).join('.') : name;
    return {
      id: entry,
      modelId: entry,
      region,
      kind: 'inference-profile-arn',
      label: geo ? `${labelFor(base)} (${geo} cross-region)` : labelFor(base),
    };
  }
  return {
    id: entry,
    modelId: entry,
    region,
    kind: 'application-inference-profile-arn',
    label: `Application inference profile ${name}`,
  };
}

function labelFor(modelId: string): string {
  return KNOWN_LABELS[modelId] ?? modelId;
}

/**
 * Parses a comma-separated list. Blank entries (a trailing comma) are skipped; a malformed
 * or repeated entry is an error naming it. Returns the errors rather than throwing so that
 * configuration can report every bad value at once.
 */
export function parseModelList(
  list: string,
  defaultRegion: string,
): { models: ModelEntry[]; errors: string[] } {
  const models: ModelEntry[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  for (const raw of list.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    if (seen.has(entry)) {
      errors.push(`BEDROCK_MODEL_ARNS lists "${entry}" twice.`);
      continue;
    }
    seen.add(entry);
    try {
      models.push(parseModelEntry(entry, defaultRegion));
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  if (models.length === 0 && errors.length === 0) errors.push('BEDROCK_MODEL_ARNS names no model.');
  return { models, errors };
}

export function isAwsRegion(value: string): boolean {
  return REGION.test(value);
}
