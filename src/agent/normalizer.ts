import {
  AIMessage,
  type BaseMessage,
  isBaseMessage,
  type ToolCall,
  ToolMessage,
} from '@langchain/core/messages';
import type { StreamEvent } from '@langchain/core/tracers/log_stream';
import {
  type ApprovalDecision,
  MAX_TOOL_OUTPUT_BYTES,
  type TurnEvent,
  type Usage,
} from '../protocol/frames.ts';
import { OpenCalls } from '../protocol/open-calls.ts';
import { GATEWAY_TOOL_RUN_TAG } from '../tools/run-tool.ts';
import { addTokens, type TokenCounts, tokenCountsOf, totalOf } from './chat-models.ts';
import { type ContentPieces, contentPieces, joinedText, textOf } from './content.ts';

/** Custom events the agent's own tool node dispatches around each tool call. */
export const TOOL_START_EVENT = 'agentgate.tool-start';
export const TOOL_END_EVENT = 'agentgate.tool-end';

/** Custom events of a tool call that waits for a person's approval (see approvals/ask.ts). */
export const APPROVAL_REQUEST_EVENT = 'agentgate.approval-request';
export const APPROVAL_RESULT_EVENT = 'agentgate.approval-result';

export interface ApprovalRequestData {
  toolCallId: string;
  name: string;
  input: Record<string, unknown>;
  expiresAt: string;
}
export interface ApprovalResultData {
  toolCallId: string;
  decision: ApprovalDecision;
  decidedBy?: string;
  reason?: string;
}

export interface ToolStartData {
  toolCallId: string;
  name: string;
  input: Record<string, unknown>;
}
export interface ToolEndData extends ToolStartData {
  output: string;
  isError: boolean;
  durationMs: number;
}

/** A tool run of another graph (a prebuilt ToolNode, say), tied to the model's call. */
interface ForeignRun {
  readonly call: ToolStartData;
  readonly startedAt: number;
}

/**
 * Turns LangChain's v2 event stream into protocol turn events. Text comes from stream
 * chunks; for a model call (run id) that streamed nothing, the text of its end event is
 * sent instead, once. It also keeps what the turn frames and the history commit need:
 * all text sent, usage summed over model calls, the completed messages, the stop reason.
 *
 * Tool frames come from whatever graph runs: the agent's own tool node says when a call
 * starts and ends (custom events); the tools of any other graph (LangGraph's ToolNode
 * included) are read from their `on_tool_*` events and tied to the model's tool call by
 * name and input, so `toolCallId` is the model's own. A call that ran no tool (an input
 * its schema refused, an unknown tool) is known by the tool message a node returned.
 */
export class TurnNormalizer {
  /** Concatenation of every `token` text sent: `turn-end.text` by construction. */
  text = '';
  readonly usage: Usage = {
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    cacheReadInputTokens: 0,
    cacheWriteInputTokens: 0,
  };
  /** The same tokens by model called (as the provider was called with it), for cost. */
  readonly tokensByModel = new Map<string, TokenCounts>();
  /** AI and tool messages that completed, in order, for the history commit. */
  readonly completed: BaseMessage[] = [];
  /** Bedrock's stop reason of the last completed model call. */
  lastStopReason: string | undefined;
  readonly #streamedRuns = new Set<string>();
  /** Tool calls the model asked for that have no `tool-start` yet, by id. */
  readonly #waiting = new Map<string, ToolStartData>();
  /** Tool calls started and not ended, and their requests for approval still waiting. */
  readonly #calls = new OpenCalls();
  readonly #foreignRuns = new Map<string, ForeignRun>();
  /** Length of `text` when the last model call completed: what follows has no message yet. */
  #settled = 0;

  /** Text streamed by a model call that has not completed (it was cancelled or failed). */
  get unsettledText(): string {
    return this.text.slice(this.#settled);
  }

  handle(event: StreamEvent): TurnEvent[] {
    // A tool run the gateway made, or what runs inside it (a model the tool calls): it
    // reaches the turn as the tool's result, not as frames of its own. The own node's calls
    // have their custom events; a graph's calls, the events of the tool it invoked.
    if (event.tags?.includes(GATEWAY_TOOL_RUN_TAG)) return [];
    switch (event.event) {
      case 'on_chat_model_stream': {
        this.#streamedRuns.add(event.run_id);
        return this.#pieces(contentPieces(event.data.chunk?.content));
      }
      case 'on_chat_model_end': {
        const output = event.data.output as AIMessage | undefined;
        if (!output) return [];
        this.#complete(output, String(event.metadata?.ls_model_name ?? 'unknown'));
        const events = this.#streamedRuns.delete(event.run_id)
          ? []
          : this.#pieces(contentPieces(output.content));
        this.#settled = this.text.length;
        return events;
      }
      case 'on_custom_event':
        return this.#custom(event.name, event.data);
      case 'on_tool_start':
        return this.#foreignStart(event);
      case 'on_tool_end':
      case 'on_tool_error':
        return this.#foreignEnd(event);
      case 'on_chain_end':
        return this.#unstartedResults(event.data.output);
      default:
        return [];
    }
  }

  #pieces({ text, reasoning }: ContentPieces): TurnEvent[] {
    const events: TurnEvent[] = [];
    if (reasoning) events.push({ type: 'reasoning', text: reasoning });
    if (text) {
      this.text += text;
      events.push({ type: 'token', text });
    }
    return events;
  }

  #complete(output: AIMessage, model: string): void {
    const usage = output.usage_metadata;
    const counts = tokenCountsOf(output);
    if (counts) {
      addTokens(this.usage, counts);
      this.usage.totalTokens = totalOf(this.usage);
      const byModel = this.tokensByModel.get(model);
      this.tokensByModel.set(model, byModel ? addTokens({ ...byModel }, counts) : counts);
    }
    // Converse puts stopReason at the top; a stream's aggregate keeps its messageStop event.
    const meta = output.response_metadata as
      | { stopReason?: string; messageStop?: { stopReason?: string } }
      | undefined;
    this.lastStopReason = meta?.stopReason ?? meta?.messageStop?.stopReason;
    for (const call of output.tool_calls ?? []) {
      if (call.id) this.#waiting.set(call.id, toStartData(call));
    }
    this.completed.push(
      new AIMessage({
        content: joinedText(output.content),
        tool_calls: output.tool_calls ?? [],
        ...(output.id ? { id: output.id } : {}),
        ...(usage ? { usage_metadata: usage } : {}),
      }),
    );
  }

  #custom(name: string, data: unknown): TurnEvent[] {
    switch (name) {
      case TOOL_START_EVENT:
        return this.#start(data as ToolStartData);
      case TOOL_END_EVENT:
        return this.#end(data as ToolEndData);
      case APPROVAL_REQUEST_EVENT:
        return this.#followed([{ type: 'approval-request', ...(data as ApprovalRequestData) }]);
      case APPROVAL_RESULT_EVENT:
        return this.#approvalResult(data as ApprovalResultData);
      default:
        return [];
    }
  }

  #approvalResult(result: ApprovalResultData): TurnEvent[] {
    if (!this.#calls.awaitsApproval(result.toolCallId)) return [];
    return this.#followed([{ type: 'approval-result', ...result }]);
  }

  /** Events of tool calls pass through here: the open calls follow them. */
  #followed(events: TurnEvent[]): TurnEvent[] {
    for (const event of events) this.#calls.follow(event);
    return events;
  }

  #start(call: ToolStartData): TurnEvent[] {
    this.#waiting.delete(call.toolCallId);
    return this.#followed([
      { type: 'tool-start', toolCallId: call.toolCallId, name: call.name, input: call.input },
    ]);
  }

  /** `inHistory`: false for a tool run no model call asked for (no result message then). */
  #end(end: ToolEndData, inHistory = true): TurnEvent[] {
    if (!this.#calls.isOpen(end.toolCallId)) return [];
    if (inHistory) this.completed.push(toolResultMessage(end));
    const output = truncateUtf8(end.output, MAX_TOOL_OUTPUT_BYTES);
    return this.#followed([
      {
        type: 'tool-end',
        toolCallId: end.toolCallId,
        name: end.name,
        output,
        ...(output.length < end.output.length ? { truncated: true as const } : {}),
        isError: end.isError,
        durationMs: end.durationMs,
      },
    ]);
  }

  /** A tool another graph runs: the model's waiting call of that name, same input first. */
  #foreignStart(event: StreamEvent): TurnEvent[] {
    const input = asInput((event.data as { input?: unknown }).input);
    const same = [...this.#waiting.values()].filter((c) => c.name === event.name);
    // No waiting call of that name: a tool a node ran on its own, not at the model's
    // request; shown, but not in history.
    const fallback = { toolCallId: event.run_id, name: event.name, input };
    const call = same.find((c) => stableJson(c.input) === stableJson(input)) ?? same[0] ?? fallback;
    this.#foreignRuns.set(event.run_id, { call, startedAt: performance.now() });
    return this.#start(call);
  }

  #foreignEnd(event: StreamEvent): TurnEvent[] {
    const run = this.#foreignRuns.get(event.run_id);
    if (!run) return [];
    this.#foreignRuns.delete(event.run_id);
    const data = event.data as { output?: unknown; error?: unknown };
    const durationMs = Math.round(performance.now() - run.startedAt);
    // Not a call the model made (a node ran the tool itself): no result message in history.
    const inHistory = run.call.toolCallId !== event.run_id;
    if (event.event === 'on_tool_error') {
      const message = data.error instanceof Error ? data.error.message : String(data.error);
      return this.#end(
        { ...run.call, output: `Error: ${message}`, isError: true, durationMs },
        inHistory,
      );
    }
    return this.#end({ ...run.call, ...toolOutput(data.output), durationMs }, inHistory);
  }

  /**
   * Ends every tool call still open when the turn stops early (cancel, error, step limit):
   * a request for approval gets its `approval-result` (`cancelled`), each call its
   * `tool-end` (an error saying why) and its result message in history (invariants 3, 9).
   */
  closeOpenCalls(why: string): TurnEvent[] {
    const events = this.#followed(this.#calls.closing(why));
    for (const event of events) {
      if (event.type === 'tool-end') this.completed.push(toolResultMessage(event));
    }
    return events;
  }

  /** Tool messages a node returned for calls that never started a tool run. */
  #unstartedResults(output: unknown): TurnEvent[] {
    if (this.#waiting.size === 0) return [];
    const messages = (output as { messages?: unknown } | undefined)?.messages ?? output;
    if (!Array.isArray(messages)) return [];
    const events: TurnEvent[] = [];
    for (const message of messages) {
      if (!ToolMessage.isInstance(message)) continue;
      const call = this.#waiting.get(message.tool_call_id);
      if (!call) continue;
      events.push(
        ...this.#start(call),
        ...this.#end({ ...call, ...toolOutput(message), durationMs: 0 }),
      );
    }
    return events;
  }
}

function toStartData(call: ToolCall): ToolStartData {
  return { toolCallId: call.id ?? '', name: call.name, input: asInput(call.args) };
}

function asInput(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { input: value };
}

/** What a tool returned, as the frame and the model see it. */
function toolOutput(output: unknown): { output: string; isError: boolean } {
  if (isBaseMessage(output) && ToolMessage.isInstance(output)) {
    return { output: textOf(output.content), isError: output.status === 'error' };
  }
  return { output: typeof output === 'string' ? output : JSON.stringify(output), isError: false };
}

/** JSON with sorted keys: the same input however its keys were ordered. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** The history message of a finished tool call: its whole output, never the cut one. */
export function toolResultMessage(
  end: Pick<ToolEndData, 'toolCallId' | 'name' | 'output' | 'isError'>,
): ToolMessage {
  return new ToolMessage({
    content: end.output,
    tool_call_id: end.toolCallId,
    name: end.name,
    status: end.isError ? 'error' : 'success',
  });
}

/** Cuts a string to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
