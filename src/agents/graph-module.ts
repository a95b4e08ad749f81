import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { Runnable } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';

/**
 * What a `graph: <module>#<export>` agent's factory is given: the agent's model (as the
 * gateway configured it: credentials, region, endpoint) and the tools the agent lists.
 */
export interface GraphContext {
  readonly model: BaseChatModel;
  readonly tools: readonly StructuredToolInterface[];
}

/**
 * A user's graph: a compiled LangGraph.js graph whose input is `{messages}` (the
 * conversation, then the user's message) and whose messages the model and tools add.
 * Export it as it is, or export a function that makes it from a {@link GraphContext}.
 */
export type GraphExport = Pick<Runnable, 'invoke'>;
export type GraphFactory = (context: GraphContext) => GraphExport | Promise<GraphExport>;
