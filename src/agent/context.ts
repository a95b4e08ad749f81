import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { textOf } from './content.ts';

const NOT_RUN =
  'This tool call was not run: the turn ended before it (error, cancel or step limit).';
const NO_ANSWER = '(The previous turn ended without an answer.)';

/**
 * Makes a stored history into a conversation Bedrock accepts, however earlier turns ended:
 * it starts with a user message, roles alternate, and every tool call is answered by a
 * tool result right after it. Tool calls left without a result get one that says they
 * were not run; orphan tool results and empty assistant messages are dropped; between two
 * user messages in a row goes an assistant message saying the turn had no answer. The
 * stored history itself is never changed.
 */
export function repairConversation(history: readonly BaseMessage[]): BaseMessage[] {
  const out: BaseMessage[] = [];
  let i = 0;
  while (i < history.length && !HumanMessage.isInstance(history[i])) i++;
  for (; i < history.length; i++) {
    const message = history[i]!;
    if (HumanMessage.isInstance(message)) {
      const last = out.at(-1);
      // A user message after a user message or a tool result: the turn between ended
      // without an answer (error, cancel, step limit). Say so rather than merge the two.
      if (last && (HumanMessage.isInstance(last) || ToolMessage.isInstance(last))) {
        out.push(new AIMessage(NO_ANSWER));
      }
      out.push(message);
    } else if (AIMessage.isInstance(message)) {
      const calls = message.tool_calls ?? [];
      if (calls.length === 0 && textOf(message.content).trim() === '') continue;
      if (out.length > 0 && AIMessage.isInstance(out.at(-1)!)) continue;
      out.push(message);
      // Collect the results that follow; answer each call exactly once, in call order.
      const results = new Map<string, ToolMessage>();
      while (i + 1 < history.length && ToolMessage.isInstance(history[i + 1])) {
        const result = history[++i] as ToolMessage;
        if (!results.has(result.tool_call_id)) results.set(result.tool_call_id, result);
      }
      for (const call of calls) {
        const id = call.id ?? '';
        out.push(
          results.get(id) ??
            new ToolMessage({
              content: NOT_RUN,
              tool_call_id: id,
              name: call.name,
              status: 'error',
            }),
        );
      }
    }
    // A tool result not right after its call is an orphan: skipped.
  }
  return out;
}

/** A rough token count (four characters a token), enough to bound what is sent. */
export function estimateTokens(message: BaseMessage): number {
  const calls = AIMessage.isInstance(message) ? JSON.stringify(message.tool_calls ?? []) : '';
  const text =
    typeof message.content === 'string' ? message.content : JSON.stringify(message.content);
  return Math.ceil((text.length + calls.length) / 4) + 4;
}

/** How far the start of a trimmed conversation moves at a time: a quarter of the budget. */
const TRIM_STEPS = 4;

/**
 * Trims as {@link trimToBudget} does, but moves the start of the conversation in steps of a
 * quarter of the budget, so that it stays where it is while the conversation grows by up to
 * that much: the prompt's start, and so its cache, stays the same across turns. A window
 * that slid every turn would write the whole prompt to the cache again each time. The
 * price: between three quarters of the budget and all of it is kept, not all of it. Turns
 * larger than a step cannot be cut that finely: then it trims as trimToBudget does.
 */
export function trimInSteps(messages: readonly BaseMessage[], budget: number): BaseMessage[] {
  const cost = (list: readonly BaseMessage[]) =>
    list.reduce((sum, m) => sum + estimateTokens(m), 0);
  const total = cost(messages);
  if (total <= budget) return trimToBudget(messages, budget);
  const step = Math.max(1, Math.ceil(budget / TRIM_STEPS));
  // Dropping a multiple of `step` from the start: the same cut until the total grows past
  // the next multiple (the start of the conversation never changes, only its end grows).
  const dropped = Math.ceil((total - budget) / step) * step;
  const stepped = trimToBudget(messages, total - dropped);
  return cost(stepped) >= budget - step ? stepped : trimToBudget(messages, budget);
}

/**
 * Keeps the newest messages that fit in `budget` tokens, cutting only in front of a user
 * message so that a tool call is never separated from its result. The newest user message
 * and everything after it are always kept.
 */
export function trimToBudget(messages: readonly BaseMessage[], budget: number): BaseMessage[] {
  let total = 0;
  let keepFrom = messages.length;
  for (let i = messages.length - 1; i >= 0; i--) {
    total += estimateTokens(messages[i]!);
    if (HumanMessage.isInstance(messages[i])) {
      if (total > budget && keepFrom < messages.length) break;
      keepFrom = i;
    }
  }
  return messages.slice(keepFrom);
}
