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
}
