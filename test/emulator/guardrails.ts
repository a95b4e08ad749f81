/**
 * Bedrock Guardrails on Converse and ConverseStream: the checks on a request's
 * `guardrailConfig`, and the trace (a `GuardrailTraceAssessment`) of an intervention that a
 * scripted reply asks for.
 */

import type {
  ConverseRequestBody,
  GuardrailIntervention,
  GuardrailPolicy,
  Operation,
} from './types.ts';

/** What a guardrail answers in place of what it blocked, unless configured otherwise. */
export const DEFAULT_BLOCKED_MESSAGE = 'Sorry, the model cannot answer this question.';

// As AWS words them in its messages (a RegExp's source would escape the slash).
const IDENTIFIER =
  '^(([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+))$';
const VERSION = '^(([1-9][0-9]{0,7})|(DRAFT))$';
const TRACE = ['enabled', 'disabled', 'enabled_full'];
const PROCESSING_MODE = ['sync', 'async'];

/** The guardrail a request names, once its config passed {@link guardrailConfigError}. */
export interface RequestGuardrail {
  /** The id its trace is keyed by (the last part of an ARN). */
  id: string;
  version: string;
  trace: boolean;
}

function violation(value: unknown, field: string, constraint: string): string {
  const shown = value === undefined || value === null ? 'null' : `'${String(value)}'`;
  return `1 validation error detected: Value ${shown} at 'guardrailConfig.${field}' failed to satisfy constraint: ${constraint}`;
}

function patternError(value: unknown, field: string, pattern: string): string | undefined {
  if (value === undefined || value === null) {
    return violation(value, field, 'Member must not be null');
  }
  if (typeof value !== 'string' || !new RegExp(pattern).test(value)) {
    return violation(value, field, `Member must satisfy regular expression pattern: ${pattern}`);
  }
  return undefined;
}

function enumError(value: unknown, field: string, allowed: string[]): string | undefined {
  const allowedValue = typeof value === 'string' && allowed.includes(value);
  if (value === undefined || allowedValue) return undefined;
  return violation(value, field, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
}

/** The ValidationException message for the request's `guardrailConfig`, if Bedrock would refuse it. */
export function guardrailConfigError(
  body: ConverseRequestBody,
  operation: Operation,
): string | undefined {
  const config = body.guardrailConfig;
  if (config === undefined) return undefined;
  return (
    patternError(config.guardrailIdentifier, 'guardrailIdentifier', IDENTIFIER) ??
    patternError(config.guardrailVersion, 'guardrailVersion', VERSION) ??
    enumError(config.trace, 'trace', TRACE) ??
    (operation === 'converse-stream'
      ? enumError(config.streamProcessingMode, 'streamProcessingMode', PROCESSING_MODE)
      : undefined)
  );
}

/**
 * The conversation text a guardrail assesses, as Bedrock's does: only `guardContent` blocks
 * when the messages have any, otherwise the text of every message (tool results and tool
 * inputs are never assessed).
 */
export function assessedText(body: ConverseRequestBody): string {
  const blocks = (Array.isArray(body.messages) ? body.messages : []).flatMap((m) =>
    Array.isArray(m.content) ? m.content : [],
  );
  const guarded = blocks.filter((block) => block.guardContent !== undefined);
  const assessed =
    guarded.length > 0 ? guarded.map((b) => b.guardContent?.text?.text) : blocks.map((b) => b.text);
  return assessed.filter((text): text is string => typeof text === 'string').join('\n');
}

export function requestGuardrail(body: ConverseRequestBody): RequestGuardrail | undefined {
  const config = body.guardrailConfig;
  if (config === undefined) return undefined;
  const identifier = String(config.guardrailIdentifier);
  return {
    id: identifier.slice(identifier.lastIndexOf('/') + 1),
    version: String(config.guardrailVersion),
    trace: config.trace === 'enabled' || config.trace === 'enabled_full',
  };
}

function policyAssessment(policy: GuardrailPolicy): Record<string, unknown> {
  if ('word' in policy) {
    return {
      wordPolicy: {
        customWords: [{ match: policy.word, action: 'BLOCKED', detected: true }],
        managedWordLists: [],
      },
    };
  }
  if ('contentFilter' in policy) {
    return {
      contentPolicy: {
        filters: [
          {
            type: policy.contentFilter,
            confidence: 'HIGH',
            filterStrength: 'HIGH',
            action: 'BLOCKED',
            detected: true,
          },
        ],
      },
    };
  }
  return {
    topicPolicy: {
      topics: [{ name: policy.topic, type: 'DENY', action: 'BLOCKED', detected: true }],
    },
  };
}

/** Whether the intervention blocks the prompt (else the model's answer). */
export function blocksInput(intervention: GuardrailIntervention): boolean {
  return (intervention.afterEvents ?? 0) === 0;
}

/**
 * `trace.guardrail` of a blocked reply: the assessment naming the policy that fired, under the
 * guardrail's id, as the input assessment or as an output assessment with the withheld text.
 */
export function guardrailTrace(
  guardrail: RequestGuardrail,
  intervention: GuardrailIntervention,
  withheldText: string,
): Record<string, unknown> {
  const assessment = {
    ...policyAssessment(intervention.policy ?? { topic: 'Denied topic' }),
    invocationMetrics: {
      guardrailProcessingLatency: 1,
      usage: {
        topicPolicyUnits: 1,
        contentPolicyUnits: 1,
        wordPolicyUnits: 1,
        sensitiveInformationPolicyUnits: 0,
        sensitiveInformationPolicyFreeUnits: 0,
        contextualGroundingPolicyUnits: 0,
      },
    },
    appliedGuardrailDetails: { guardrailId: guardrail.id, guardrailVersion: guardrail.version },
  };
  return blocksInput(intervention)
    ? { inputAssessment: { [guardrail.id]: assessment }, actionReason: 'Guardrail blocked.' }
    : {
        modelOutput: [withheldText],
        outputAssessments: { [guardrail.id]: [assessment] },
        actionReason: 'Guardrail blocked.',
      };
}
