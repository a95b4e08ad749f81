import { ChatBedrockConverse } from '@langchain/aws';
import type { AIMessage, BaseMessage } from '@langchain/core/messages';
import type { RunnableConfig } from '@langchain/core/runnables';
import type { StructuredToolInterface } from '@langchain/core/tools';
import type { Logger } from 'pino';
import type { ChatModels } from '../../agent/chat-models.ts';
import type { BedrockClients } from './clients.ts';
import { isAbortError, toProtocolError } from './errors.ts';
import type { ModelEntry } from './model-registry.ts';

export interface BedrockModelsOptions {
  readonly models: readonly ModelEntry[];
  readonly nonStreamingModels: ReadonlySet<string>;
  readonly clients: BedrockClients;
  readonly log: Logger;
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
  readonly #chatModels = new Map<string, ChatBedrockConverse>();

  constructor(options: BedrockModelsOptions) {
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
    const streaming = this.isStreaming(entry);
    const chat = new ProtocolChatBedrockConverse(
      {
        model: entry.modelId,
        region: entry.region,
        client: this.#clients.get(entry.region, streaming ? 'stream' : 'converse'),
        streaming,
        streamUsage: true,
        // The client's socket timeout watches for a stalled stream (clients.ts) instead.
        streamIdleTimeout: 0,
      },
      { model: entry.id, region: entry.region },
    );
    chat.disableStreaming = !streaming;
    return chat;
  }

  #bound(entry: ModelEntry, streaming: boolean, tools: readonly StructuredToolInterface[]) {
    const key = `${streaming ? 'stream' : 'converse'}:${entry.id}`;
    let chat = this.#chatModels.get(key);
    if (!chat) {
      chat = new ChatBedrockConverse({
        model: entry.modelId,
        region: entry.region,
        client: this.#clients.get(entry.region, streaming ? 'stream' : 'converse'),
        streaming,
        streamUsage: true,
        // The client's socket timeout watches for a stalled stream (clients.ts) instead.
        streamIdleTimeout: 0,
      });
      // BaseChatModel's constructor ignores a `disableStreaming` field; without the
      // property set, an event-stream handler makes the call stream regardless.
      chat.disableStreaming = !streaming;
      this.#chatModels.set(key, chat);
    }
    return tools.length > 0 ? chat.bindTools([...tools]) : chat;
  }
}

/** ChatBedrockConverse whose failures leave as protocol errors: what users' graphs get. */
class ProtocolChatBedrockConverse extends ChatBedrockConverse {
  readonly #where: { model: string; region: string };

  constructor(
    fields: ConstructorParameters<typeof ChatBedrockConverse>[0],
    where: { model: string; region: string },
  ) {
    super(fields);
    this.#where = where;
  }

  override async _generate(...args: Parameters<ChatBedrockConverse['_generate']>) {
    try {
      return await super._generate(...args);
    } catch (error) {
      throw this.#mapped(error, args[1]);
    }
  }

  override async *_streamResponseChunks(
    ...args: Parameters<ChatBedrockConverse['_streamResponseChunks']>
  ) {
    try {
      yield* super._streamResponseChunks(...args);
    } catch (error) {
      throw this.#mapped(error, args[1]);
    }
  }

  #mapped(error: unknown, options: { signal?: AbortSignal } | undefined): unknown {
    if (isAbortError(error) || options?.signal?.aborted) return error;
    return toProtocolError(error, this.#where);
  }
}

function refusesStreamingToolUse(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return e?.name === 'ValidationException' && /tool use in streaming mode/i.test(e.message ?? '');
}
