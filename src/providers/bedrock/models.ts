import type { GuardrailConfiguration } from '@aws-sdk/client-bedrock-runtime';
import { ChatBedrockConverse } from '@langchain/aws';
import { AIMessage, type BaseMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';
import type { Logger } from 'pino';
import type { ChatModels, TokenCounts } from '../../agent/chat-models.ts';
import type { GuardrailSettings } from '../../config/config.ts';
import { ProtocolError } from '../../protocol/errors.ts';
import type { CallGate } from './call-gate.ts';
import type { BedrockClients } from './clients.ts';
import { isAbortError, toProtocolError } from './errors.ts';
import { guardrailFindings } from './guardrails.ts';
import { featuresOf, MAX_CACHE_POINTS } from './model-features.ts';
import type { ModelEntry } from './model-registry.ts';
import { ModelPrices } from './prices.ts';

export interface BedrockModelsOptions {
  readonly models: readonly ModelEntry[];
  readonly nonStreamingModels: ReadonlySet<string>;
  readonly clients: BedrockClients;
  readonly log: Logger;
  /** BEDROCK_PROMPT_CACHE=auto: cache points for the models that support them. */
  readonly promptCache?: boolean;
  readonly guardrail?: GuardrailSettings | undefined;
  /** Extended thinking's budget, for the models that have it. */
  readonly reasoningBudgetTokens?: number | undefined;
  /** Built-in list prices when not given. */
  readonly prices?: ModelPrices;
  /** BEDROCK_MAX_CONCURRENCY: every call takes a slot of its model; unbounded without. */
  readonly gate?: CallGate | undefined;
}

/**
 * The configured models and how to call them. A model is streamed (ConverseStream) unless
 * it is configured non-streaming or has refused tool use in streaming mode; such a refusal
 * is remembered for the life of the process and the call is made again with Converse.
 * Failures leave as protocol errors (the one mapping table, errors.ts).
 */
export class BedrockModels implements ChatModels {
  readonly entries: readonly ModelEntry[];
  readonly #nonStreaming: Set<string>;
  readonly #clients: BedrockClients;
  readonly #log: Logger;
  readonly #chatModels = new Map<string, BedrockChatModel>();
  readonly #options: BedrockModelsOptions;
  readonly #prices: ModelPrices;

  constructor(options: BedrockModelsOptions) {
    this.#options = options;
    this.#prices = options.prices ?? new ModelPrices();
    this.entries = options.models;
    this.#nonStreaming = new Set(options.nonStreamingModels);
    this.#clients = options.clients;
    this.#log = options.log;
  }

  get default(): ModelEntry {
    return this.entries[0]!;
  }

  /** The entry for a client's `model` field, or the default when none is given. */
  find(id: string | undefined): ModelEntry | undefined {
    return id === undefined ? this.default : this.entries.find((m) => m.id === id);
  }

  isStreaming(entry: ModelEntry): boolean {
    return !this.#nonStreaming.has(entry.id);
  }

  async invoke(
    entry: ModelEntry,
    messages: BaseMessage[],
    tools: readonly StructuredToolInterface[],
    config: RunnableConfig,
  ): Promise<AIMessage> {
    try {
      return await this.#call(entry, messages, tools, config);
    } catch (error) {
      if (isAbortError(error) || config.signal?.aborted) throw error;
      throw toProtocolError(error, { model: entry.id, region: entry.region });
    }
  }

  async #call(
    entry: ModelEntry,
    messages: BaseMessage[],
    tools: readonly StructuredToolInterface[],
    config: RunnableConfig,
  ): Promise<AIMessage> {
    const streaming = this.isStreaming(entry);
    try {
      return await this.#bound(entry, streaming, tools).invoke(messages, config);
    } catch (error) {
      if (!streaming || tools.length === 0 || !refusesStreamingToolUse(error)) throw error;
      this.#nonStreaming.add(entry.id);
      this.#log.warn(
        { model: entry.id },
        'model refused tool use in streaming mode; calling it with Converse from now on',
      );
      return await this.#bound(entry, false, tools).invoke(messages, config);
    }
  }

  chatModel(entry: ModelEntry): ChatBedrockConverse {
    return this.#create(entry, this.isStreaming(entry));
  }

  costUsd(model: string, tokens: TokenCounts): number | undefined {
    return this.#prices.costUsd(model, tokens);
  }

  #bound(entry: ModelEntry, streaming: boolean, tools: readonly StructuredToolInterface[]) {
    const key = `${streaming ? 'stream' : 'converse'}:${entry.id}`;
    let chat = this.#chatModels.get(key);
    if (!chat) {
      chat = this.#create(entry, streaming);
      this.#chatModels.set(key, chat);
    }
    return tools.length > 0 ? chat.bindTools([...tools]) : chat;
  }

  /** A chat model for one entry, with the features configured and the model supports. */
  #create(entry: ModelEntry, streaming: boolean): BedrockChatModel {
    const features = featuresOf(entry.id);
    const thinking = features.reasoning
      ? thinkingFor(this.#options.reasoningBudgetTokens, features.maxOutputTokens)
      : undefined;
    const { guardrail } = this.#options;
    const chat = new BedrockChatModel(
      {
        model: entry.modelId,
        region: entry.region,
        client: this.#clients.get(entry.region, streaming ? 'stream' : 'converse'),
        streaming,
        streamUsage: true,
        // The client's socket timeout watches for a stalled stream (clients.ts) instead.
        streamIdleTimeout: 0,
        ...(guardrail
          ? {
              guardrailConfig: {
                guardrailIdentifier: guardrail.id,
                guardrailVersion: guardrail.version,
                trace: 'enabled',
                // Converse has no stream processing mode.
                ...(streaming ? { streamProcessingMode: guardrail.streamMode } : {}),
              } as GuardrailConfiguration,
            }
          : {}),
        ...(thinking
          ? {
              additionalModelRequestFields: {
                thinking: { type: 'enabled', budget_tokens: thinking.budget },
              },
              maxTokens: thinking.maxTokens,
            }
          : {}),
      },
      {
        where: { model: entry.id, region: entry.region },
        log: this.#log,
        promptCache: Boolean(this.#options.promptCache) && features.promptCache,
        reasoning: thinking !== undefined,
        gate: this.#options.gate,
      },
    );
    // BaseChatModel's constructor ignores a `disableStreaming` field; without the
    // property set, an event-stream handler makes the call stream regardless.
    chat.disableStreaming = !streaming;
    return chat;
  }
}

/** Output tokens allowed beyond the thinking budget, for the answer itself. */
export const REASONING_ANSWER_TOKENS = 4_096;

/**
 * The thinking budget and output limit of a call: the budget plus room for the answer,
 * within the model's output limit (the budget gives way, never the answer's room).
 */
export function thinkingFor(
  budget: number | undefined,
  maxOutputTokens: number | undefined,
): { budget: number; maxTokens: number } | undefined {
  if (budget === undefined) return undefined;
  const fits =
    maxOutputTokens === undefined
      ? budget
      : Math.min(budget, maxOutputTokens - REASONING_ANSWER_TOKENS);
  return { budget: fits, maxTokens: fits + REASONING_ANSWER_TOKENS };
}

/** Cache points ChatBedrockConverse adds for `cache_control`: tools, system, last message. */
const ADDED_CACHE_POINTS = 3;
const CACHE_CONTROL = { type: 'ephemeral' } as const;

interface CallSettings {
  readonly where: { model: string; region: string };
  readonly log: Logger;
  /** Prompt caching, when on and the model has it. */
  readonly promptCache: boolean;
  /** Whether the call has extended thinking, and so takes reasoning blocks back. */
  readonly reasoning: boolean;
  readonly gate: CallGate | undefined;
}

/**
 * ChatBedrockConverse as every call of the gateway, and of users' graphs, makes it: each
 * Bedrock call holds a slot of the call gate while it runs; failures leave as protocol
 * errors; cache points go where Bedrock takes them; a guardrail's trace is logged (never sent
 * to clients).
 */
class BedrockChatModel extends ChatBedrockConverse {
  readonly #settings: CallSettings;

  constructor(
    fields: ConstructorParameters<typeof ChatBedrockConverse>[0],
    settings: CallSettings,
  ) {
    super(fields);
    this.#settings = settings;
  }

  override async _generateNonStreaming(
    ...[messages, options, runManager]: Parameters<ChatBedrockConverse['_generateNonStreaming']>
  ) {
    const lease = await this.#enter(options);
    try {
      const sent = this.#prepared(messages);
      const result = await super._generateNonStreaming(
        sent,
        this.#cached(sent, options),
        runManager,
      );
      this.#traced(result.generations[0]?.message.response_metadata);
      return result;
    } catch (error) {
      throw this.#mapped(error, options);
    } finally {
      await lease?.release();
    }
  }

  override async *_streamResponseChunks(
    ...[messages, options, runManager]: Parameters<ChatBedrockConverse['_streamResponseChunks']>
  ) {
    const lease = await this.#enter(options);
    try {
      const sent = this.#prepared(messages);
      for await (const chunk of super._streamResponseChunks(
        sent,
        this.#cached(sent, options),
        runManager,
      )) {
        this.#traced((chunk.message.response_metadata as { metadata?: object }).metadata);
        yield chunk;
      }
    } catch (error) {
      throw this.#mapped(error, options);
    } finally {
      await lease?.release();
    }
  }

  /**
   * ChatBedrockConverse streams chat model events (what `streamEvents` and LangGraph's
   * message streaming ask for) with a Bedrock call of its own: it goes through the gate,
   * the message preparation, caching and error mapping as the other two do.
   */
  override async *_streamChatModelEvents(
    ...[messages, options, runManager]: Parameters<ChatBedrockConverse['_streamChatModelEvents']>
  ) {
    const lease = await this.#enter(options);
    try {
      const sent = this.#prepared(messages);
      yield* super._streamChatModelEvents(sent, this.#cached(sent, options), runManager);
    } catch (error) {
      throw this.#mapped(error, options);
    } finally {
      await lease?.release();
    }
  }

  /** A slot of the call gate, if there is one (a cancelled turn stops waiting for it). */
  async #enter(options: { signal?: AbortSignal } | undefined) {
    const { gate, where } = this.#settings;
    try {
      return await gate?.enter(where, options?.signal);
    } catch (error) {
      throw this.#mapped(error, options);
    }
  }

  /**
   * Options with `cache_control` when caching applies: ChatBedrockConverse then puts cache
   * points after the tools (not for Nova), after the system prompt and at the end of the
   * last message. Left off when the conversation ends with the model's own message (its
   * last block may be reasoning, which a cache point may not follow) or when cache points
   * already in the messages would take the request past Bedrock's four.
   */
  #cached<T extends { cache_control?: unknown }>(messages: BaseMessage[], options: T): T {
    if (!this.#settings.promptCache || options.cache_control !== undefined) return options;
    if (AIMessage.isInstance(messages.at(-1))) return options;
    if (cachePointsIn(messages) + ADDED_CACHE_POINTS > MAX_CACHE_POINTS) return options;
    return { ...options, cache_control: CACHE_CONTROL };
  }

  /**
   * The messages as this call takes them: a call without extended thinking is sent no
   * reasoning blocks (the conversation may have had thinking before, on this model or
   * another). A message that held nothing else keeps them: Bedrock refuses empty content.
   */
  #prepared(messages: BaseMessage[]): BaseMessage[] {
    if (this.#settings.reasoning) return messages;
    return messages.map((message) => {
      if (!AIMessage.isInstance(message) || !Array.isArray(message.content)) return message;
      const content = message.content.filter((block) => !isReasoning(block));
      if (content.length === message.content.length) return message;
      if (content.length === 0 && (message.tool_calls ?? []).length === 0) return message;
      return new AIMessage({
        content,
        tool_calls: message.tool_calls ?? [],
        additional_kwargs: message.additional_kwargs,
        response_metadata: message.response_metadata,
        ...(message.id ? { id: message.id } : {}),
        ...(message.name ? { name: message.name } : {}),
        ...(message.usage_metadata ? { usage_metadata: message.usage_metadata } : {}),
      });
    });
  }

  /**
   * Logs what a guardrail found: at info which policies acted, at debug its whole trace
   * (which quotes what it assessed, personal data included). Never sent to clients.
   */
  #traced(metadata: unknown): void {
    const trace = (metadata as { trace?: { guardrail?: unknown } } | undefined)?.trace?.guardrail;
    if (trace === undefined) return;
    const { log, where } = this.#settings;
    try {
      log.info({ model: where.model, findings: guardrailFindings(trace) }, 'guardrail trace');
    } catch (error) {
      // A trace of an unexpected shape must not fail the answer it came with.
      log.warn({ err: error, model: where.model }, 'could not read a guardrail trace');
    }
    log.debug({ model: where.model, guardrail: trace }, 'guardrail trace in full');
  }

  #mapped(error: unknown, options: { signal?: AbortSignal } | undefined): unknown {
    if (isAbortError(error) || options?.signal?.aborted) return error;
    const mapped = toProtocolError(error, this.#settings.where);
    if (mapped.code === 'bedrock_throttled') this.#settings.gate?.throttled(this.#settings.where);
    return mapped;
  }
}

function isReasoning(block: unknown): boolean {
  const type = (block as { type?: unknown }).type;
  return type === 'reasoning' || type === 'reasoning_content';
}

/** Cache point blocks the messages carry already (a user's graph may place its own). */
function cachePointsIn(messages: readonly BaseMessage[]): number {
  let count = 0;
  for (const message of messages) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content as Record<string, unknown>[]) {
      if ('cachePoint' in block || block.type === 'cache_point') count++;
    }
  }
  return count;
}

/** The call's failure (mapped to a protocol error, its cause) was Bedrock's refusal. */
function refusesStreamingToolUse(error: unknown): boolean {
  const e = (error instanceof ProtocolError ? error.cause : error) as
    | { name?: string; message?: string }
    | undefined;
  return e?.name === 'ValidationException' && /tool use in streaming mode/i.test(e.message ?? '');
}
