/** What the gateway does about Bedrock guardrails: what they assess, and what is logged. */

import type { BedrockRuntimeClient, ContentBlock, Message } from '@aws-sdk/client-bedrock-runtime';
import { MAX_CACHE_POINTS } from './model-features.ts';

const CACHE_POINT: ContentBlock = { cachePoint: { type: 'default' } };

/**
 * A guardrail assesses every message of a Converse request unless some of its text is in
 * `guardContent` blocks; then it assesses only those. Without this, one prompt the guardrail
 * blocked would block every later turn of its conversation (it is in their history), and
 * each call would pay to assess the whole history again. So in a request with a guardrail,
 * the text of the turn's question (the newest user message that is not only tool results)
 * is sent as `guardContent`: the model reads it as text; the guardrail assesses it, and the
 * answer. A request that has `guardContent` of its own (a user's graph) is left as it is.
 *
 * The question is `guardContent` in its own turn and text in later ones, so a prompt cached
 * up to it no longer matches after it. With prompt caching on (the conversation ends with a
 * cache point), one more cache point goes just before the question, where later turns'
 * prompts still match, if the request has room for it.
 */
export function guardLatestQuestion(messages: readonly Message[], cachePoints: number): Message[] {
  const blocks = (m: Message): ContentBlock[] => m.content ?? [];
  if (messages.some((m) => blocks(m).some((b) => b.guardContent !== undefined))) {
    return [...messages];
  }
  const at = messages.findLastIndex(
    (m) =>
      m.role === 'user' &&
      blocks(m).some((b) => b.toolResult === undefined && b.cachePoint === undefined),
  );
  if (at < 0 || !blocks(messages[at]!).some((b) => b.text !== undefined)) return [...messages];
  const out = [...messages];
  const question = messages[at]!;
  out[at] = {
    ...question,
    content: blocks(question).map(
      (block): ContentBlock =>
        block.text === undefined ? block : { guardContent: { text: { text: block.text } } },
    ),
  };
  const before = messages[at - 1];
  const cached = messages.at(-1)?.content?.at(-1)?.cachePoint !== undefined;
  const last = before ? blocks(before).at(-1) : undefined;
  if (
    before &&
    cached &&
    cachePoints < MAX_CACHE_POINTS &&
    last?.cachePoint === undefined &&
    last?.reasoningContent === undefined
  ) {
    out[at - 1] = { ...before, content: [...blocks(before), CACHE_POINT] };
  }
  return out;
}

/** Cache points of a request: after the tools, in the system prompt, in messages. */
function cachePointsOf(input: {
  messages?: Message[];
  system?: { cachePoint?: unknown }[];
  toolConfig?: { tools?: { cachePoint?: unknown }[] };
}): number {
  const count = (list: { cachePoint?: unknown }[] | undefined) =>
    (list ?? []).filter((b) => b.cachePoint !== undefined).length;
  return (
    count(input.toolConfig?.tools) +
    count(input.system) +
    (input.messages ?? []).reduce((sum, m) => sum + count(m.content), 0)
  );
}

/** Runs {@link guardLatestQuestion} on every Converse and ConverseStream call with a guardrail. */
export function useGuardContent(client: BedrockRuntimeClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input;
      if (!('guardrailConfig' in input) || !input.guardrailConfig || !input.messages) {
        return next(args);
      }
      const messages = guardLatestQuestion(input.messages, cachePointsOf(input));
      return next({ ...args, input: { ...input, messages } });
    },
    { step: 'initialize', name: 'agentgateGuardLatestQuestion' },
  );
}

/** A guardrail assessment's policies and the items that acted, without what they matched. */
type Finding = { policy: string; item?: string; action?: string };

/**
 * Which policies of a guardrail trace acted, and how: a topic's or filter's name or type and
 * the action, never `match` (the text or personal data it found).
 */
export function guardrailFindings(trace: unknown): Finding[] {
  const { inputAssessment, outputAssessments } = trace as {
    inputAssessment?: Record<string, unknown>;
    outputAssessments?: Record<string, unknown[]>;
  };
  const assessments = [
    ...Object.values(inputAssessment ?? {}),
    ...Object.values(outputAssessments ?? {}).flat(),
  ];
  const findings: Finding[] = [];
  for (const assessment of assessments) {
    if (assessment === null || typeof assessment !== 'object') continue;
    for (const [policy, detail] of Object.entries(assessment as Record<string, unknown>)) {
      // The policies (topicPolicy, contentPolicy, …), not the metrics or details beside them.
      if (!policy.endsWith('Policy') || detail === null || typeof detail !== 'object') continue;
      const items = Object.values(detail).filter(Array.isArray).flat();
      for (const item of items as Record<string, unknown>[]) {
        if (item === null || typeof item !== 'object') continue;
        // An item the guardrail looked at but that did not act.
        if (item.detected === false || item.action === 'NONE') continue;
        const name = item.name ?? item.type;
        findings.push({
          policy,
          ...(typeof name === 'string' ? { item: name } : {}),
          ...(typeof item.action === 'string' ? { action: item.action } : {}),
        });
      }
    }
  }
  return findings;
}
