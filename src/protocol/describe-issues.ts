import { z } from 'zod';

/**
 * Issues about a field's type, size or choices, which the field's schema describes whole.
 * Others (a refinement, a format) carry their own rule.
 */
const SCHEMA_RULES = new Set([
  'invalid_type',
  'too_small',
  'too_big',
  'invalid_value',
  'invalid_union',
]);

/** Integer checks bound numbers to the safe range; that bound is no rule worth telling. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * Plain words for a failed parse, one clause per field: `afterSeq must be a whole number
 * ≥ 0.` The field comes from each issue's path; what the field accepts is read from the
 * schema at that path (type and both bounds), so one refusal tells the whole rule and the
 * words never drift from the schema. Any other issue says its own rule: a refinement's
 * message is written as what is accepted ("an address with @").
 */
export function describeIssues(error: z.ZodError, schema: z.ZodType): string {
  const sentences = new Map<string, string>();
  for (const issue of error.issues) {
    const field = issue.path.map(String).join('.') || 'the frame';
    if (sentences.has(field)) continue;
    const accepts = SCHEMA_RULES.has(issue.code) ? schemaAt(schema, issue.path) : undefined;
    const accepted = accepts ? describeSchema(accepts, issue.code) : undefined;
    sentences.set(field, `${field} must be ${accepted ?? describeIssue(issue)}`);
  }
  return `${[...sentences.values()].join('; ')}.`;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (
    inner instanceof z.ZodOptional ||
    inner instanceof z.ZodNullable ||
    inner instanceof z.ZodDefault
  ) {
    inner = inner.unwrap() as z.ZodType;
  }
  return inner;
}

function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of path) {
    const inner: z.ZodType = unwrap(current);
    if (inner instanceof z.ZodObject) current = inner.shape[String(key)];
    else if (inner instanceof z.ZodArray) current = inner.element as z.ZodType;
    else return undefined;
    if (!current) return undefined;
  }
  return unwrap(current);
}

/** "1 to 200 characters", "at most 128 characters", …; undefined when unbounded. */
function range(min: number | null, max: number | null, unit: string): string | undefined {
  const low = min !== null && min > 0 ? min : undefined;
  const high = max !== null && max < UNBOUNDED ? max : undefined;
  const units = (n: number) => (n === 1 ? unit : `${unit}s`);
  if (low !== undefined && high !== undefined) {
    return low === high ? `exactly ${low} ${units(low)}` : `${low} to ${high} ${units(high)}`;
  }
  if (high !== undefined) return `at most ${high} ${units(high)}`;
  if (low !== undefined) return `at least ${low} ${units(low)}`;
  return undefined;
}

/**
 * What a schema accepts. For a string of the right type but the wrong length, only the
 * length is said ("content must be 1 to 32000 characters").
 */
function describeSchema(schema: z.ZodType, code: string): string | undefined {
  if (schema instanceof z.ZodString) {
    const length = range(schema.minLength, schema.maxLength, 'character');
    if (length && (code === 'too_small' || code === 'too_big')) return length;
    return length ? `a string of ${length}` : 'a string';
  }
  if (schema instanceof z.ZodNumber) {
    const kind = schema.isInt ? 'a whole number' : 'a number';
    const min = schema.minValue !== null && schema.minValue > -UNBOUNDED ? schema.minValue : null;
    const max = schema.maxValue !== null && schema.maxValue < UNBOUNDED ? schema.maxValue : null;
    if (min !== null && max !== null) return `${kind} from ${min} to ${max}`;
    if (min !== null) return `${kind} ≥ ${min}`;
    if (max !== null) return `${kind} ≤ ${max}`;
    return kind;
  }
  if (schema instanceof z.ZodBoolean) return 'true or false';
  if (schema instanceof z.ZodEnum) return `one of ${schema.options.join(', ')}`;
  if (schema instanceof z.ZodLiteral) {
    const values = [...schema.values].map((v) => JSON.stringify(v));
    return values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
  }
  if (schema instanceof z.ZodUnion) {
    const each = (schema.options as z.ZodType[]).map((o) =>
      describeSchema(unwrap(o), 'invalid_type'),
    );
    return each.every(Boolean) ? each.join(' or ') : undefined;
  }
  if (schema instanceof z.ZodArray) return 'a list';
  if (schema instanceof z.ZodObject || schema instanceof z.ZodRecord) return 'an object';
  return undefined;
}

/** What an issue says, in the same words, for schemas describeSchema does not know. */
function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `of type ${issue.expected}`;
    case 'too_small':
      return `at least ${issue.minimum}`;
    case 'too_big':
      return `at most ${issue.maximum}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format':
      return `a valid ${issue.format}`;
    case 'custom':
      return issue.message;
    default:
      return `valid (${issue.message})`;
  }
}
