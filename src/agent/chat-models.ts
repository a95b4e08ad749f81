import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { AIMessage, BaseMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';

/** A model the gateway offers: as configured (`id`), as the provider names it, and where. */
export interface ChatModelInfo {
  readonly id: string;
  readonly modelId: string;
  readonly label: string;
  readonly region: string;
  readonly kind: string;
}

/** Tokens of one or more model calls, as Bedrock counts them (`input` excludes the cache). */
export interface TokenCounts {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadInputTokens: number;
  readonly cacheWriteInputTokens: number;
}

/**
 * A model call's tokens as Bedrock counts them. LangChain's `input_tokens` include the cache
 * reads and writes (also given apart in `input_token_details`); Bedrock's do not.
 */
export function tokenCountsOf(message: AIMessage): TokenCounts | undefined {
  const usage = message.usage_metadata;
  if (!usage) return undefined;
  const cacheRead = usage.input_token_details?.cache_read ?? 0;
  const cacheWrite = usage.input_token_details?.cache_creation ?? 0;
  return {
    inputTokens: Math.max(0, (usage.input_tokens ?? 0) - cacheRead - cacheWrite),
    outputTokens: usage.output_tokens ?? 0,
    cacheReadInputTokens: cacheRead,
    cacheWriteInputTokens: cacheWrite,
  };
}

/** Every input token: those read from and written to the cache too. */
export function totalInput(tokens: TokenCounts): number {
  return tokens.inputTokens + tokens.cacheReadInputTokens + tokens.cacheWriteInputTokens;
}

export function totalOf(tokens: TokenCounts): number {
  return (
    tokens.inputTokens +
    tokens.outputTokens +
    tokens.cacheReadInputTokens +
    tokens.cacheWriteInputTokens
  );
}

type Tally = { -readonly [K in keyof TokenCounts]: number };

export function addTokens<T extends Tally>(sum: T, more: TokenCounts): T {
  sum.inputTokens += more.inputTokens;
  sum.outputTokens += more.outputTokens;
  sum.cacheReadInputTokens += more.cacheReadInputTokens;
  sum.cacheWriteInputTokens += more.cacheWriteInputTokens;
  return sum;
}

/** USD rounded to 1e-10: sums of float products would otherwise read 0.30000000000000004. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}

/**
 * The configured models and how to call them: what the gateway and the agent know of a
 * model provider. Only `providers/` knows the vendor behind it.
 */
export interface ChatModels {
  readonly entries: readonly ChatModelInfo[];
  readonly default: ChatModelInfo;
  /** The entry for a client's `model` field, or the default when none is given. */
  find(id: string | undefined): ChatModelInfo | undefined;
  /** Whether calls to the model stream (for traces). */
  isStreaming(entry: ChatModelInfo): boolean;
  /**
   * One model call. `config` carries the caller's callbacks and abort signal. Fails with a
   * ProtocolError, or with the abort error when the signal aborted.
   */
  invoke(
    entry: ChatModelInfo,
    messages: BaseMessage[],
    tools: readonly StructuredToolInterface[],
    config: RunnableConfig,
  ): Promise<AIMessage>;
  /**
   * A LangChain chat model for a user's own graph, which binds its tools itself. Its
   * failures leave as ProtocolErrors, as `invoke`'s do.
   */
  chatModel(entry: ChatModelInfo): BaseChatModel;
  /**
   * What tokens of a model cost in USD, or undefined when its price is unknown. `model` is
   * the model as the provider was called with it (an entry's `modelId`, or any other).
   */
  costUsd(model: string, tokens: TokenCounts): number | undefined;
}
