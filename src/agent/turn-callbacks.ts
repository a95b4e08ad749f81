import { BaseCallbackHandler, type NewTokenIndices } from '@langchain/core/callbacks/base';
import type { Serialized } from '@langchain/core/load/serializable';
import type { BaseMessage } from '@langchain/core/messages';
import type { ChatGeneration, ChatGenerationChunk, LLMResult } from '@langchain/core/outputs';
import type { StreamEvent } from '@langchain/core/tracers/log_stream';
import type { ChainValues } from '@langchain/core/utils/types';

/** What the turn does with each event: normalise it (and log it, when asked). */
export type EventSink = (event: StreamEvent) => void;

/**
 * The turn's view of a graph run, as LangChain callbacks: each callback becomes the
 * `streamEvents` (v2) event it stands for, handed to `sink` at once, in order.
 *
 * Why not `streamEvents` itself: it routes every token through a tracer's run map, a web
 * stream and its own filters before the turn sees it, and that machinery was most of the
 * gateway's CPU per token (docs/performance.md). A handler that LangChain awaits inline
 * (`awaitHandlers`) sees the same events, in the same order, for any graph: callbacks are
 * inherited by every model, tool and node a graph runs, a user's own graph included.
 * Only the events the normaliser reads are made, with the fields it reads.
 */
export class TurnCallbacks extends BaseCallbackHandler {
  override name = 'agentgate.turn';
  override awaitHandlers = true;
  // A failure in the normaliser is a bug: it fails the turn rather than losing frames.
  override raiseError = true;
  /** Makes chat models stream (BaseChatModel looks for a handler that prefers it). */
  readonly lc_prefer_streaming = true;
  readonly #sink: EventSink;
  readonly #log: ((kind: string, runId: string) => void) | undefined;
  /**
   * Chat model runs: their names and tags, which the token callbacks do not repeat, and the
   * model called (`ls_model_name`), which the end event carries for usage and cost.
   */
  readonly #models = new Map<string, { name: string; tags: string[]; model: unknown }>();
  readonly #tools = new Map<string, { name: string; tags: string[] }>();

  constructor(sink: EventSink, log?: (kind: string, runId: string) => void) {
    super();
    this.#sink = sink;
    this.#log = log;
  }

  #emit(event: StreamEvent): void {
    this.#log?.(event.event, event.run_id);
    this.#sink(event);
  }

  override handleChatModelStart(
    llm: Serialized,
    _messages: BaseMessage[][],
    runId: string,
    _parentRunId?: string,
    _extra?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    this.#models.set(runId, {
      name: runName ?? nameOf(llm),
      tags: tags ?? [],
      model: metadata?.ls_model_name,
    });
    this.#log?.('on_chat_model_start', runId);
  }

  override handleLLMNewToken(
    _token: string,
    _idx: NewTokenIndices,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: { chunk?: ChatGenerationChunk },
  ): void {
    const run = this.#models.get(runId);
    const chunk = fields?.chunk?.message;
    if (!run || !chunk) return;
    this.#emit({
      event: 'on_chat_model_stream',
      run_id: runId,
      name: run.name,
      tags: run.tags,
      metadata: NO_METADATA,
      data: { chunk },
    });
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    const run = this.#models.get(runId);
    if (!run) return;
    this.#models.delete(runId);
    const message = (output.generations[0]?.[0] as ChatGeneration | undefined)?.message;
    this.#emit({
      event: 'on_chat_model_end',
      run_id: runId,
      name: run.name,
      tags: run.tags,
      metadata: { ls_model_name: run.model },
      data: { output: message },
    });
  }

  override handleLLMError(_error: unknown, runId: string): void {
    this.#models.delete(runId);
  }

  override handleCustomEvent(name: string, data: unknown, runId: string, tags?: string[]): void {
    this.#emit({
      event: 'on_custom_event',
      run_id: runId,
      name,
      tags: tags ?? [],
      metadata: {},
      data: data as StreamEvent['data'],
    });
  }

  override handleToolStart(
    tool: Serialized,
    input: string | Record<string, unknown>,
    runId: string,
    _parentRunId?: string,
    tags?: string[],
    _metadata?: Record<string, unknown>,
    runName?: string,
  ): void {
    const run = { name: runName ?? nameOf(tool), tags: tags ?? [] };
    this.#tools.set(runId, run);
    this.#emit({
      event: 'on_tool_start',
      run_id: runId,
      ...run,
      metadata: {},
      // As LangChain's tracers record it: a string input is `{input}`.
      data: { input: typeof input === 'string' ? { input } : input },
    });
  }

  override handleToolEnd(output: unknown, runId: string): void {
    this.#toolEnded('on_tool_end', runId, { output });
  }

  override handleToolError(error: unknown, runId: string): void {
    this.#toolEnded('on_tool_error', runId, { error });
  }

  #toolEnded(event: 'on_tool_end' | 'on_tool_error', runId: string, data: object): void {
    const run = this.#tools.get(runId);
    if (!run) return;
    this.#tools.delete(runId);
    this.#emit({ event, run_id: runId, ...run, metadata: {}, data });
  }

  override handleChainStart(_chain: Serialized, _inputs: ChainValues, runId: string): void {
    this.#log?.('on_chain_start', runId);
  }

  override handleChainEnd(
    outputs: ChainValues,
    runId: string,
    _parent?: string,
    tags?: string[],
  ): void {
    this.#emit({
      event: 'on_chain_end',
      run_id: runId,
      name: '',
      tags: tags ?? [],
      metadata: {},
      data: { output: (outputs as { output?: unknown }).output ?? outputs },
    });
  }
}

/** The metadata of every token event: none is read, and one object serves them all. */
const NO_METADATA: Record<string, unknown> = Object.freeze({});

function nameOf(serialized: Serialized): string {
  return (serialized as { name?: string }).name ?? serialized.id.at(-1) ?? 'Unnamed';
}
