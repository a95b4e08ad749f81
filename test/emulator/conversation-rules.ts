/**
 * The checks Bedrock makes on a Converse request before any model runs. Each returns the
 * ValidationException message Bedrock would send, so a gateway that builds a bad conversation
 * fails against the emulator the way it would fail against AWS.
 */

import type { ConverseRequestBody, WireMessage } from './types.ts';

/** The ValidationException message for a request, or `undefined` when Bedrock would accept it. */
export function conversationError(body: ConverseRequestBody): string | undefined {
  const messages = body.messages;
  if (!Array.isArray(messages)) {
    return 'Malformed input request: #: required key [messages] not found, please reformat your input and try again.';
  }
  if (messages.length === 0) {
    return 'The messages field is empty. Add at least one message with the user role and try again.';
  }
  return (
    roleError(messages) ??
    contentError(messages, body.toolConfig !== undefined) ??
    toolPairingError(messages)
  );
}

function roleError(messages: WireMessage[]): string | undefined {
  if (messages[0]?.role !== 'user') {
    return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  }
  for (let i = 0; i < messages.length; i++) {
    const role = messages[i]?.role;
    if (role !== 'user' && role !== 'assistant') {
      return `Malformed input request: messages.${i}.role: ${JSON.stringify(role)} is not a valid enum value, please reformat your input and try again.`;
    }
    if (i > 0 && role === messages[i - 1]?.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
  }
  return undefined;
}

function contentError(messages: WireMessage[], hasToolConfig: boolean): string | undefined {
  for (const [i, message] of messages.entries()) {
    const content = message.content;
    if (!Array.isArray(content) || content.length === 0) {
      return `The content field in the Message object at messages.${i} is empty. Add a ContentBlock object to the content field and try again.`;
    }
    for (const [j, block] of content.entries()) {
      if ('text' in block && (typeof block.text !== 'string' || block.text.trim() === '')) {
        return `The text field in the ContentBlock object at messages.${i}.content.${j} is blank. Add text to the text field, and try again.`;
      }
      if ((block.toolUse || block.toolResult) && !hasToolConfig) {
        return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
      }
    }
  }
  return undefined;
}

function toolUseIds(message: WireMessage | undefined): string[] {
  return (message?.content ?? []).flatMap((block) =>
    block.toolUse ? [String(block.toolUse.toolUseId)] : [],
  );
}

function toolResultIds(message: WireMessage | undefined): string[] {
  return (message?.content ?? []).flatMap((block) =>
    block.toolResult ? [String(block.toolResult.toolUseId)] : [],
  );
}

/** Every toolUse is answered in the very next user message, and every toolResult answers one. */
function toolPairingError(messages: WireMessage[]): string | undefined {
  // Roles alternate by now, so every user message after the first follows an assistant message.
  const stray = toolResultIds(messages[0])[0];
  if (stray !== undefined) return unmatchedResult(stray, 0);
  for (const [i, message] of messages.entries()) {
    if (message.role !== 'assistant') continue;
    const uses = toolUseIds(message);
    const results = toolResultIds(messages[i + 1]);
    const unknown = results.find((id) => !uses.includes(id));
    if (unknown !== undefined) return unmatchedResult(unknown, i + 1);
    const missing = uses.filter((id) => !results.includes(id));
    if (missing.length > 0) {
      return `Expected toolResult blocks at messages.${i + 1}.content for the following Ids: ${missing.join(', ')}`;
    }
  }
  return undefined;
}

function unmatchedResult(id: string, index: number): string {
  return `The toolUseId ${id} in the toolResult blocks at messages.${index}.content does not match any toolUse block of the previous assistant message.`;
}
