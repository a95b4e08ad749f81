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
