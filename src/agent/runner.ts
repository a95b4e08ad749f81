import { randomUUID } from 'node:crypto';
import { AIMessage, type BaseMessage, type HumanMessage } from '@langchain/core/messages';
import type { Runnable } from '@langchain/core/runnables';
import { GraphRecursionError } from '@langchain/langgraph';
import { context, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { errorBody, ProtocolError } from '../protocol/errors.ts';
import type { StopReason, TurnEvent, Usage } from '../protocol/frames.ts';
import { type ChatModelInfo, type TokenCounts, totalInput } from './chat-models.ts';
import { repairConversation } from './context.ts';
import { EventQueue } from './event-queue.ts';
import type { TurnConfigurable } from './graph.ts';
import { TurnNormalizer } from './normalizer.ts';
import { TurnCallbacks } from './turn-callbacks.ts';

/**
 * What runs a turn: a compiled LangGraph graph that takes `{messages}` (the agent's own
 * tool-calling loop, or a user's graph), and the most steps it may take.
 */
export interface TurnAgent {
  readonly id: string;
  readonly graph: Pick<Runnable, 'invoke'>;
  readonly recursionLimit: number;
}

export interface TurnInput {
  readonly agent: TurnAgent;
  readonly model: ChatModelInfo;
  /** The stored conversation before this turn. */
  readonly history: readonly BaseMessage[];
  readonly userMessage: HumanMessage;
  readonly signal: AbortSignal;
  /** Names the turn in traces. */
  readonly ids?: { readonly conversationId: string; readonly turnId: string };
}

export interface TurnOutcome {
  readonly stopReason: StopReason;
  readonly text: string;
  /** Tokens of the turn's model calls (no cost: Turns prices them). */
  readonly usage: Usage;
  /** The same tokens by model called, for the cost and the metrics per model. */
  readonly tokensByModel: ReadonlyMap<string, TokenCounts>;
  /** The AI and tool messages the turn completed, for the history commit. */
  readonly completed: readonly BaseMessage[];
  /** Text of a model call cut short (cancelled or failed), which no message holds. */
  readonly unsettledText: string;
}

export interface RunnerOptions {
  readonly log: Logger;
  readonly logStreamEvents: boolean;
  /** Spans of turns (here), model and tool calls (in the graph); a no-op tracer by default. */
  readonly tracer?: Tracer;
}

/**
 * Runs one turn of the agent as an async generator of turn events (everything between
 * `turn-start` and `turn-end`, including at most one `error`) and returns its outcome.
 * It never throws for a failed turn: failures become an `error` event.
 */
export async function* runTurn(
  options: RunnerOptions,
  input: TurnInput,
): AsyncGenerator<TurnEvent, TurnOutcome> {
  const normalizer = new TurnNormalizer();
  const span = (options.tracer ?? trace.getTracer('agentgate')).startSpan('agentgate.turn', {
    attributes: {
      'agentgate.model': input.model.id,
      'agentgate.agent': input.agent.id,
      'agentgate.conversation_id': input.ids?.conversationId ?? '',
      'agentgate.turn_id': input.ids?.turnId ?? '',
    },
  });
  let stopReason: StopReason;
  try {
    const configurable: TurnConfigurable = {
      model: input.model,
      ...(input.ids ?? {}),
      traceContext: trace.setSpan(context.active(), span),
    };
    const events = new EventQueue<TurnEvent>();
    const callbacks = new TurnCallbacks(
      (event) => events.push(normalizer.handle(event)),
      options.logStreamEvents
        ? (kind, runId) => options.log.info(`[Stream Event] ${kind} ${runId}`)
        : undefined,
    );
    const run = input.agent.graph.invoke(
      // Repaired once for any graph (the own loop repairs each model call again, after
      // its tools): a turn that ended early may have left a tool call unanswered.
      { messages: repairConversation([...input.history, input.userMessage]) },
      {
        signal: input.signal,
        configurable,
        recursionLimit: input.agent.recursionLimit,
        callbacks: [callbacks],
      },
    );
    yield* events.drain(run);
    stopReason = finalStopReason(normalizer);
  } catch (error) {
    let failure: ProtocolError | undefined;
    if (input.signal.aborted) {
      stopReason = 'cancelled';
    } else if (error instanceof GraphRecursionError) {
      // A user's graph that went on past its step limit (the own loop stops before it).
      options.log.warn({ agent: input.agent.id }, 'the graph reached its recursion limit');
      stopReason = 'step_limit';
    } else {
      failure = asProtocolError(error, options.log);
      stopReason = 'error';
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.code });
    }
    // Invariants 3 and 9: a call cut short still gets its approval-result and tool-end.
    yield* normalizer.closeOpenCalls(CUT_SHORT[stopReason]);
    if (failure) yield { type: 'error', ...errorBody(failure) };
  }
  span.setAttributes({
    'agentgate.stop_reason': stopReason,
    'gen_ai.usage.input_tokens': totalInput(normalizer.usage),
    'gen_ai.usage.output_tokens': normalizer.usage.outputTokens,
    'gen_ai.usage.cache_read.input_tokens': normalizer.usage.cacheReadInputTokens,
    'gen_ai.usage.cache_creation.input_tokens': normalizer.usage.cacheWriteInputTokens,
  });
  span.end();
  return {
    stopReason,
    text: normalizer.text,
    usage: { ...normalizer.usage },
    tokensByModel: normalizer.tokensByModel,
    completed: normalizer.completed,
    unsettledText: normalizer.unsettledText,
  };
}

/** What a tool call cut short by the end of its turn is told, by how the turn ended. */
const CUT_SHORT: Record<StopReason, string> = {
  cancelled: 'The turn was cancelled while this tool ran; its result is unknown.',
  error: 'The turn failed while this tool ran; its result is unknown.',
  step_limit: 'The turn reached its step limit while this tool ran; its result is unknown.',
  end_turn: 'The turn ended while this tool ran.',
  max_tokens: 'The turn ended while this tool ran.',
  content_filtered: 'The turn ended while this tool ran.',
};

/** Bedrock's stop reasons that the turn's own stop reason tells apart. */
const MODEL_STOP_REASONS: Readonly<Record<string, StopReason>> = {
  max_tokens: 'max_tokens',
  // A guardrail stopped the answer, or the model's own content filter did.
  guardrail_intervened: 'content_filtered',
  content_filtered: 'content_filtered',
};

function finalStopReason(normalizer: TurnNormalizer): StopReason {
  const last = normalizer.completed.at(-1);
  if (AIMessage.isInstance(last) && (last.tool_calls?.length ?? 0) > 0) return 'step_limit';
  return MODEL_STOP_REASONS[normalizer.lastStopReason ?? ''] ?? 'end_turn';
}

/** Protocol errors pass through; anything else is a bug, logged with a correlation id. */
export function asProtocolError(error: unknown, log: Logger): ProtocolError {
  if (error instanceof ProtocolError) {
    // Name, code and status only: SDK errors carry request and response objects.
    const cause = error.cause as
      | { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } }
      | undefined;
    log.warn(
      {
        code: error.code,
        cause: {
          name: cause?.name,
          code: cause?.code,
          message: cause?.message,
          status: cause?.$metadata?.httpStatusCode,
        },
      },
      'turn failed',
    );
    return error;
  }
  const correlationId = randomUUID();
  log.error({ err: error, correlationId }, 'internal error in turn');
  return new ProtocolError('internal', `Internal error (correlation id ${correlationId}).`);
}
