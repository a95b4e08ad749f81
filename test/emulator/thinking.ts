/**
 * Claude's extended thinking as Bedrock serves it: the checks on
 * `additionalModelRequestFields.thinking` and on the reasoning blocks a conversation sends back,
 * worded as Bedrock passes Anthropic's errors on ("The model returned the following errors: …"),
 * and the signatures that let the emulator tell its own reasoning from an edited or made-up one.
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ModelTraits } from './models.ts';
import type { ConverseRequestBody, WireContentBlock, WireMessage } from './types.ts';

const MODEL_ERRORS = 'The model returned the following errors: ';
const MIN_BUDGET_TOKENS = 1_024;
const DOCS = 'https://docs.claude.com/en/docs/build-with-claude/extended-thinking';

/** Signs reasoning text with a secret of this emulator's, as Bedrock's signatures bind text to it. */
export class ReasoningSigner {
  readonly #secret = randomBytes(32);

  sign(text: string): string {
    return createHmac('sha256', this.#secret).update(text).digest('base64');
  }

  verifies(text: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(text));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
}

function thinkingField(body: ConverseRequestBody): unknown {
  return body.additionalModelRequestFields?.thinking;
}

/** Whether the request turns extended thinking on. */
export function thinkingEnabled(body: ConverseRequestBody): boolean {
  const thinking = thinkingField(body);
  return (
    thinking !== null &&
    typeof thinking === 'object' &&
    (thinking as { type?: unknown }).type === 'enabled'
  );
}

/** The ValidationException message for the request's thinking settings, if Bedrock would refuse them. */
export function thinkingError(body: ConverseRequestBody, traits: ModelTraits): string | undefined {
  if (thinkingField(body) === undefined) return undefined;
  if (!traits.thinking) {
    return traits.vendor === 'anthropic'
      ? `${MODEL_ERRORS}thinking: Extra inputs are not permitted`
      : 'Malformed input request: extraneous key [thinking] is not permitted, please reformat your input and try again.';
  }
  if (!thinkingEnabled(body)) return undefined;
  const budget = (thinkingField(body) as { budget_tokens?: unknown }).budget_tokens;
  if (budget === undefined) return `${MODEL_ERRORS}thinking.enabled.budget_tokens: Field required`;
  if (typeof budget !== 'number' || budget < MIN_BUDGET_TOKENS) {
    return `${MODEL_ERRORS}thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_BUDGET_TOKENS}`;
  }
  const { maxTokens, temperature } = body.inferenceConfig ?? {};
  if (maxTokens !== undefined && maxTokens <= budget) {
    return `${MODEL_ERRORS}\`max_tokens\` must be greater than \`thinking.budget_tokens\`. Please consult our documentation at ${DOCS}#max-tokens-and-context-window-size`;
  }
  if (temperature !== undefined && temperature !== 1) {
    return `${MODEL_ERRORS}\`temperature\` may only be set to 1 when thinking is enabled. Please consult our documentation at ${DOCS}#important-considerations-when-using-extended-thinking`;
  }
  return undefined;
}

/** Anthropic's index of a block: cache points become a flag on the block before them. */
function anthropicIndex(content: WireContentBlock[], index: number): number {
  return content.slice(0, index).filter((block) => !block.cachePoint).length;
}

/** Anthropic's name of a block's type, as its errors say it. */
function anthropicType(block: WireContentBlock | undefined): string {
  if (block?.toolUse) return 'tool_use';
  if (block?.toolResult) return 'tool_result';
  if (block?.reasoningContent?.redactedContent !== undefined) return 'redacted_thinking';
  if (block?.reasoningContent) return 'thinking';
  return typeof block?.text === 'string' ? 'text' : 'unknown';
}

function signatureError(messages: WireMessage[], signer: ReasoningSigner): string | undefined {
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'assistant') continue;
    const content = message.content ?? [];
    for (const [j, block] of content.entries()) {
      const reasoning = block.reasoningContent?.reasoningText;
      if (!reasoning) continue;
      const at = `messages.${i}.content.${anthropicIndex(content, j)}`;
      const { text = '', signature } = reasoning;
      if (typeof signature !== 'string' || signature === '') {
        return `${MODEL_ERRORS}${at}.thinking.signature: Field required`;
      }
      if (!signer.verifies(text, signature)) {
        return `${MODEL_ERRORS}${at}: Invalid \`signature\` in \`thinking\` block`;
      }
    }
  }
  return undefined;
}

/**
 * With thinking on, the assistant message that asked for the tools whose results end the
 * conversation must start with its reasoning, as the model produced it.
 */
function toolTurnError(messages: WireMessage[]): string | undefined {
  const lastUser = messages.findLastIndex((message) => message.role === 'user');
  const results = messages[lastUser]?.content?.some((block) => block.toolResult);
  const assistant = messages[lastUser - 1];
  if (!results || assistant?.role !== 'assistant') return undefined;
  const first = assistant.content?.[0];
  if (first?.reasoningContent) return undefined;
  return (
    `${MODEL_ERRORS}messages.${lastUser - 1}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${anthropicType(first)}\`. ` +
    'When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). ' +
    `We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at ${DOCS}`
  );
}

/**
 * The ValidationException message for the reasoning a conversation sends back: every reasoning
 * text must carry the signature it came with (redacted reasoning passes as it is), and with
 * thinking on a tool round must keep its reasoning.
 */
export function reasoningError(
  body: ConverseRequestBody,
  signer: ReasoningSigner,
): string | undefined {
  const messages = body.messages ?? [];
  return (
    signatureError(messages, signer) ??
    (thinkingEnabled(body) ? toolTurnError(messages) : undefined)
  );
}
