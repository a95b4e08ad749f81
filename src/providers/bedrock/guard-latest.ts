import type { BedrockRuntimeClient, ContentBlock, Message } from '@aws-sdk/client-bedrock-runtime';

/**
 * A guardrail assesses every message of a Converse request unless some of its text is in
 * `guardContent` blocks; then it assesses only those. Without this, one prompt the guardrail
 * blocked would block every later turn of its conversation (it is in their history), and
 * each call would pay to assess the whole history again. So in a request with a guardrail,
 * the text of the newest user message that has text (the turn's question) is sent as
 * `guardContent`: the model reads it as text; the guardrail assesses it, and the answer.
 */
export function guardLatestUserText(messages: readonly Message[]): Message[] {
  const at = messages.findLastIndex(
    (m) => m.role === 'user' && (m.content ?? []).some((block) => block.text !== undefined),
  );
  if (at < 0) return [...messages];
  const latest = messages[at]!;
  const guarded: Message = {
    ...latest,
    content: (latest.content ?? []).map(
      (block): ContentBlock =>
        block.text === undefined ? block : { guardContent: { text: { text: block.text } } },
    ),
  };
  return messages.map((message, i) => (i === at ? guarded : message));
}

/** Runs {@link guardLatestUserText} on every Converse and ConverseStream call with a guardrail. */
export function useGuardContent(client: BedrockRuntimeClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input;
      if (!('guardrailConfig' in input) || !input.guardrailConfig || !input.messages) {
        return next(args);
      }
      return next({ ...args, input: { ...input, messages: guardLatestUserText(input.messages) } });
    },
    { step: 'initialize', name: 'agentgateGuardLatestUserText' },
  );
}
