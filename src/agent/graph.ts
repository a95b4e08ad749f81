import { dispatchCustomEvent } from '@langchain/core/callbacks/dispatch';
import {
  AIMessage,
  type BaseMessage,
  SystemMessage,
  type ToolMessage,
} from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';
import { Annotation, END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { type Context, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import {
  type ApprovalPlace,
  type ApprovalPolicy,
  askApproval,
  notRunResult,
} from '../approvals/ask.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { runTool, type ToolRun, toolTimeout } from '../tools/run-tool.ts';
import { type ChatModelInfo, type ChatModels, tokenCountsOf, totalInput } from './chat-models.ts';
import { joinedText } from './content.ts';
import { repairConversation, trimInSteps } from './context.ts';
import {
  TOOL_END_EVENT,
  TOOL_START_EVENT,
  type ToolEndData,
  toolResultMessage,
} from './normalizer.ts';

export interface AgentOptions {
  readonly models: ChatModels;
  /**
   * The tools offered for the conversation as it stands: a skill loaded in it (by this turn
   * or an earlier one) adds its tools. Only offered tools run.
   */
  readonly toolsFor: (messages: readonly BaseMessage[]) => readonly StructuredToolInterface[];
  readonly systemPrompt: string;
  readonly maxSteps: number;
  readonly maxContextTokens: number;
  /** TOOL_TIMEOUT_MS: how long a tool call may run unless its metadata says otherwise. */
  readonly toolTimeoutMs: number;
  /** Which tools wait for a person's approval, and how the turn asks; none without it. */
  readonly approval?: ApprovalPolicy;
  readonly tracer?: Tracer;
}

const AgentState = Annotation.Root({
  ...MessagesAnnotation.spec,
  /** Model calls made in this turn. */
  steps: Annotation<number>({ reducer: (_, next) => next, default: () => 0 }),
});
type State = typeof AgentState.State;

/** What a turn passes to the graph in `configurable`. */
export interface TurnConfigurable extends Partial<ApprovalPlace> {
  model: ChatModelInfo;
  /** The turn's span, parent of the model and tool call spans. */
  traceContext?: Context;
}

/**
 * The tool-calling loop: the model is called with the (repaired, trimmed) conversation;
 * while it asks for tools and the step limit allows, the tools run and the model is
 * called again. After `maxSteps` model calls the graph ends even if tools were asked for;
 * the runner reports that as `step_limit`.
 */
export function createAgentGraph(options: AgentOptions) {
  const system = new SystemMessage(options.systemPrompt);

  const tracer = options.tracer ?? trace.getTracer('agentgate');
  const { approval } = options;

  const callModel = async (state: State, config: RunnableConfig) => {
    const { model, traceContext } = config.configurable as TurnConfigurable;
    const context = trimInSteps(repairConversation(state.messages), options.maxContextTokens);
    const span = tracer.startSpan(
      'bedrock.converse',
      {
        attributes: {
          'gen_ai.system': 'aws.bedrock',
          'gen_ai.request.model': model.modelId,
          'cloud.region': model.region,
          'agentgate.streaming': options.models.isStreaming(model),
          'agentgate.messages': context.length,
        },
      },
      traceContext,
    );
    try {
      const tools = options.toolsFor(state.messages);
      const reply = await options.models.invoke(model, [system, ...context], tools, config);
      // As the history will hold it (the normaliser joins the turn's messages the same way),
      // so the next call of this turn sends the same prompt as later turns: a cache hit.
      reply.content = joinedText(reply.content);
      const tokens = tokenCountsOf(reply);
      if (tokens) {
        const cost = options.models.costUsd(model.modelId, tokens);
        span.setAttributes({
          // OpenTelemetry's GenAI names: input counts the cached tokens too.
          'gen_ai.usage.input_tokens': totalInput(tokens),
          'gen_ai.usage.output_tokens': tokens.outputTokens,
          'gen_ai.usage.cache_read.input_tokens': tokens.cacheReadInputTokens,
          'gen_ai.usage.cache_creation.input_tokens': tokens.cacheWriteInputTokens,
          ...(cost === undefined ? {} : { 'agentgate.cost_usd': cost }),
        });
      }
      return { messages: [reply], steps: state.steps + 1 };
    } catch (error) {
      const code = error instanceof ProtocolError ? error.code : 'aborted';
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  };

  const runTools = async (state: State, config: RunnableConfig) => {
    const last = state.messages.at(-1) as AIMessage;
    const { traceContext } = config.configurable as TurnConfigurable;
    const results: ToolMessage[] = [];
    const offered = new Map(options.toolsFor(state.messages).map((t) => [t.name, t]));
    for (const call of last.tool_calls ?? []) {
      config.signal?.throwIfAborted();
      const toolCallId = call.id ?? `call_${results.length}`;
      const input = call.args ?? {};
      await dispatchCustomEvent(TOOL_START_EVENT, { toolCallId, name: call.name, input }, config);
      const started = performance.now();
      const span = tracer.startSpan(`tool ${call.name}`, {}, traceContext);
      const tool = offered.get(call.name);
      let run: ToolRun;
      try {
        const answer =
          tool && approval?.needed(tool)
            ? await askApproval(
                approval,
                placeOf(config),
                { toolCallId, name: call.name, input },
                config,
              )
            : undefined;
        if (!tool) {
          run = { output: `Error: Unknown tool "${call.name}".`, isError: true };
        } else if (approval && answer && answer.decision !== 'approve') {
          run = { output: notRunResult(call.name, answer, approval.timeoutMs), isError: true };
        } else {
          run = await runTool(tool, input, {
            timeoutMs: toolTimeout(tool, options.toolTimeoutMs),
            config,
          });
        }
        if (run.isError) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: run.output.slice(0, 200) });
        }
      } finally {
        span.end();
      }
      const end: ToolEndData = {
        toolCallId,
        name: call.name,
        input,
        output: run.output,
        isError: run.isError,
        durationMs: Math.round(performance.now() - started),
      };
      await dispatchCustomEvent(TOOL_END_EVENT, end, config);
      results.push(toolResultMessage(end));
    }
    return { messages: results };
  };

  const next = (state: State) => {
    const last = state.messages.at(-1);
    const wantsTools = AIMessage.isInstance(last) && (last.tool_calls?.length ?? 0) > 0;
    return wantsTools && state.steps < options.maxSteps ? 'tools' : END;
  };

  return new StateGraph(AgentState)
    .addNode('agent', callModel)
    .addNode('tools', runTools)
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', next, ['tools', END])
    .addEdge('tools', 'agent')
    .compile();
}

export type AgentGraph = ReturnType<typeof createAgentGraph>;

/** The turn a tool call belongs to, for its request for approval. */
function placeOf(config: RunnableConfig): ApprovalPlace {
  const { conversationId, turnId } = config.configurable as TurnConfigurable;
  if (conversationId === undefined || turnId === undefined) {
    throw new Error('A tool that needs approval ran outside a turn.');
  }
  return { conversationId, turnId };
}
