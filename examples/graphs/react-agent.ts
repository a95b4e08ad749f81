/**
 * An agent written as a plain LangGraph.js graph, run by agentgate as it is: a model node
 * and LangGraph's prebuilt ToolNode, in a loop until the model stops asking for tools.
 * agentgate streams its tokens and tool calls as the same frames as its own agents'.
 *
 * In an AGENTS_FILE (the path is relative to that file):
 *
 *   agents:
 *     - id: react
 *       description: A ReAct agent built with LangGraph's prebuilt ToolNode.
 *       graph: ./graphs/react-agent.ts#createGraph
 *       tools: [current_time, calculator]
 *
 * `createGraph` gets the agent's model (configured by the gateway: credentials, region,
 * endpoint) and the tools the agent lists; a module may export a compiled graph instead.
 */
import { SystemMessage } from '@langchain/core/messages';
import { MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import type { GraphFactory } from '../../src/agents/graph-module.ts';

const SYSTEM = new SystemMessage(
  'You are a careful assistant. Think step by step and use a tool whenever it gives a fact you need.',
);

export const createGraph: GraphFactory = ({ model, tools }) => {
  if (!model.bindTools) throw new Error('this graph needs a model that can call tools');
  const withTools = model.bindTools([...tools]);
  return new StateGraph(MessagesAnnotation)
    .addNode('model', async (state, config) => ({
      messages: [await withTools.invoke([SYSTEM, ...state.messages], config)],
    }))
    .addNode('tools', new ToolNode([...tools]))
    .addEdge(START, 'model')
    .addConditionalEdges('model', toolsCondition, ['tools', '__end__'])
    .addEdge('tools', 'model')
    .compile();
};
