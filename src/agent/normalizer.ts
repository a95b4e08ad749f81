import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import type { StreamEvent } from '@langchain/core/tracers/log_stream';
import { MAX_TOOL_OUTPUT_BYTES, type TurnEvent, type Usage } from '../protocol/frames.ts';
import { type ContentPieces, contentPieces } from './content.ts';

/** Custom events the agent's tool node dispatches around each tool call. */
export const TOOL_START_EVENT = 'agentgate.tool-start';
export const TOOL_END_EVENT = 'agentgate.tool-end';

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

/**
 * Turns LangChain's v2 event stream into protocol turn events. Text comes from stream
 * chunks; for a model call (run id) that streamed nothing, the text of its end event is
 * sent instead, once. It also keeps what the turn frames and the history commit need:
 * all text sent, usage summed over model calls, the completed messages, the stop reason.
 */
export class TurnNormalizer {
  /** Concatenation of every `token` text sent: `turn-end.text` by construction. */
  text = '';
  readonly usage: Usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
  /** AI and tool messages that completed, in order, for the history commit. */
  readonly completed: BaseMessage[] = [];
  /** Bedrock's stop reason of the last completed model call. */
  lastStopReason: string | undefined;
  readonly #streamedRuns = new Set<string>();
  /** Length of `text` when the last model call completed: what follows has no message yet. */
  #settled = 0;

  /** Text streamed by a model call that has not completed (it was cancelled or failed). */
  get unsettledText(): string {
    return this.text.slice(this.#settled);
  }

  handle(event: StreamEvent): TurnEvent[] {
    switch (event.event) {
      case 'on_chat_model_stream': {
        this.#streamedRuns.add(event.run_id);
        return this.#pieces(contentPieces(event.data.chunk?.content));
      }
      case 'on_chat_model_end': {
        const output = event.data.output as AIMessage | undefined;
        if (!output) return [];
        this.#complete(output);
        const events = this.#streamedRuns.delete(event.run_id)
          ? []
          : this.#pieces(contentPieces(output.content));
        this.#settled = this.text.length;
        return events;
      }
      case 'on_custom_event':
        return this.#custom(event.name, event.data);
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

  #complete(output: AIMessage): void {
    const usage = output.usage_metadata;
    if (usage) {
      this.usage.inputTokens += usage.input_tokens ?? 0;
      this.usage.outputTokens += usage.output_tokens ?? 0;
      this.usage.totalTokens += usage.total_tokens ?? 0;
    }
    // Converse puts stopReason at the top; a stream's aggregate keeps its messageStop event.
    const meta = output.response_metadata as
      | { stopReason?: string; messageStop?: { stopReason?: string } }
      | undefined;
    this.lastStopReason = meta?.stopReason ?? meta?.messageStop?.stopReason;
    this.completed.push(
      new AIMessage({
        content: output.content,
        tool_calls: output.tool_calls ?? [],
        ...(output.id ? { id: output.id } : {}),
        ...(usage ? { usage_metadata: usage } : {}),
      }),
    );
  }

  #custom(name: string, data: unknown): TurnEvent[] {
    if (name === TOOL_START_EVENT) {
      const d = data as ToolStartData;
      return [{ type: 'tool-start', toolCallId: d.toolCallId, name: d.name, input: d.input }];
    }
    if (name === TOOL_END_EVENT) {
      const d = data as ToolEndData;
      this.completed.push(toolResultMessage(d));
      const output = truncateUtf8(d.output, MAX_TOOL_OUTPUT_BYTES);
      return [
        {
          type: 'tool-end',
          toolCallId: d.toolCallId,
          name: d.name,
          output,
          ...(output.length < d.output.length ? { truncated: true as const } : {}),
          isError: d.isError,
          durationMs: d.durationMs,
        },
      ];
    }
    return [];
  }
}

/** The history message of a finished tool call: its whole output, never the cut one. */
export function toolResultMessage(end: ToolEndData): ToolMessage {
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
