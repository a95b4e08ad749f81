/**
 * The Bedrock Runtime emulator: routes Converse and ConverseStream, records every request,
 * checks it as Bedrock would (conversation, guardrail, prompt-cache and thinking rules, then the
 * model's concurrency quota), and answers from a FIFO queue of scripted replies, falling back to
 * the start options' `script`, or else the demo script, when the queue is empty. It keeps a
 * prompt cache per model and signs the reasoning it sends, as Bedrock does.
 */

import { ConcurrencyTracker } from './concurrency.ts';
import { conversationError } from './conversation-rules.ts';
import { defaultReply } from './default-script.ts';
import { guardrailConfigError, requestGuardrail } from './guardrails.ts';
import { modelTraits } from './models.ts';
import { Prompt } from './prompt.ts';
import { cachePointError, PromptCache } from './prompt-cache.ts';
import { checkReply, type PlanContext } from './reply-plan.ts';
import {
  type Answer,
  type ResponseLike,
  sendConverse,
  sendError,
  sendStream,
} from './responder.ts';
import { parseAuthorization } from './sigv4.ts';
import { ReasoningSigner, reasoningError, thinkingEnabled, thinkingError } from './thinking.ts';
import { type AnyRequest, type AnyResponse, DualProtocolListener } from './transport.ts';
import type {
  ConverseRequestBody,
  EmulatorOptions,
  ErrorReply,
  MessageReply,
  Operation,
  RecordedRequest,
  Reply,
} from './types.ts';

const ROUTE = /^\/model\/([^/]+)\/(converse|converse-stream)$/;
const DEFAULT_WAIT_MS = 5_000;
const STREAMING_TOOL_USE_REFUSED = "This model doesn't support tool use in streaming mode.";

export interface StartOptions extends EmulatorOptions {
  /** Called as each request is recorded (the launcher prints a line). */
  onRequest?: (request: RecordedRequest) => void;
}

function isErrorReply(reply: MessageReply | ErrorReply): reply is ErrorReply {
  return 'error' in reply;
}

function parseBody(raw: string): ConverseRequestBody | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as ConverseRequestBody)
      : undefined;
  } catch {
    // Not JSON: the record keeps `body: undefined` and the request is refused as malformed.
    return undefined;
  }
}

/** A running emulator. Create it with {@link startEmulator}. */
export class Emulator {
  readonly url: string;
  readonly port: number;
  /** Every Converse/ConverseStream request since start or the last `reset()`, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  readonly #listener: DualProtocolListener;
  readonly #paceMs: number | undefined;
  readonly #script: ((body: ConverseRequestBody) => Reply) | undefined;
  readonly #onRequest: ((request: RecordedRequest) => void) | undefined;
  readonly #queue: Reply[] = [];
  readonly #refusals = new Set<string>();
  readonly #inFlight = new Set<AbortController>();
  readonly #waiters = new Set<() => void>();
  readonly #abortsSeen = new Set<RecordedRequest>();
  readonly #signer = new ReasoningSigner();
  readonly #cache: PromptCache;
  readonly #concurrency: ConcurrencyTracker;

  /** @internal Use {@link startEmulator}. */
  constructor(listener: DualProtocolListener, url: string, port: number, options: StartOptions) {
    this.#listener = listener;
    this.url = url;
    this.port = port;
    this.#paceMs = options.paceMs;
    this.#script = options.script;
    this.#onRequest = options.onRequest;
    this.#cache = new PromptCache(options.now ?? Date.now);
    this.#concurrency = new ConcurrencyTracker(options.concurrencyQuotas);
  }

  /** TCP connections accepted. */
  get connections(): number {
    return this.#listener.counters.connections;
  }

  get http2Sessions(): number {
    return this.#listener.counters.http2Sessions;
  }

  get http1Connections(): number {
    return this.#listener.counters.http1Connections;
  }

  /** Queues replies; each later request (any model, either operation) takes the next one. */
  enqueue(...replies: Reply[]): void {
    for (const reply of replies) {
      if ('blocks' in reply) checkReply(reply);
    }
    this.#queue.push(...replies);
  }

  /** ConverseStream calls to this model that offer tools get a ValidationException. */
  refuseStreamingToolUse(modelId: string): void {
    this.#refusals.add(modelId);
  }

  /**
   * Requests of this model (the id as recorded) admitted and not yet answered or aborted.
   * Requests refused before a model would run (validation, throttling) never count.
   */
  inFlight(modelId: string): number {
    return this.#concurrency.inFlight(modelId);
  }

  /** The most requests of this model in flight at once since start or `reset()`. */
  peakInFlight(modelId: string): number {
    return this.#concurrency.peak(modelId);
  }

  /**
   * At most `max` requests of this model in flight; one more gets a ThrottlingException, as
   * Bedrock's on-demand quotas answer. `*` sets it for every model without its own; `undefined`
   * lifts it. `reset()` goes back to the start options' quotas.
   */
  setConcurrencyQuota(modelId: string, max: number | undefined): void {
    this.#concurrency.setQuota(modelId, max);
  }

  /** Resolves with `requests` once at least `count` have arrived. */
  waitForRequests(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<RecordedRequest[]> {
    return this.#waitFor(
      () => (this.requests.length >= count ? this.requests : undefined),
      timeoutMs,
      `${count} request(s)`,
    );
  }

  /** Resolves with the earliest request, not yet returned here, whose client left early. */
  waitForAbort(timeoutMs = DEFAULT_WAIT_MS): Promise<RecordedRequest> {
    return this.#waitFor(
      () => {
        const found = this.requests.find((r) => r.aborted && !this.#abortsSeen.has(r));
        if (found) this.#abortsSeen.add(found);
        return found;
      },
      timeoutMs,
      'an aborted request',
    );
  }

  /**
   * Clears queued replies, records, counters, refusals, the prompt cache and peak counts, and
   * restores the start options' quotas. Open connections stay open.
   */
  reset(): void {
    this.#queue.length = 0;
    this.requests.length = 0;
    this.#refusals.clear();
    this.#abortsSeen.clear();
    this.#listener.resetCounters();
    this.#cache.clear();
    this.#concurrency.reset();
  }

  /** Ends hanging responses and destroys every connection. Idempotent. */
  close(): Promise<void> {
    for (const controller of this.#inFlight) controller.abort();
    return this.#listener.close();
  }

  /** @internal The transport's request handler. */
  handle(req: AnyRequest, res: AnyResponse, connectionId: number): void {
    this.#handle(req, res as ResponseLike, connectionId).catch((error: unknown) => {
      // A bug in the emulator or in a test's reply function: make it visible to the client.
      if (res.headersSent) res.destroy();
      else sendBare(res as ResponseLike, 'InternalServerException', `Emulator failure: ${error}`);
    });
  }

  async #handle(req: AnyRequest, res: ResponseLike, connectionId: number): Promise<void> {
    const route = req.method === 'POST' ? ROUTE.exec((req.url ?? '').split('?')[0] ?? '') : null;
    if (!route) {
      sendBare(res, 'UnknownOperationException', `No operation at ${req.method} ${req.url}`);
      return;
    }
    const controller = new AbortController();
    this.#inFlight.add(controller);
    // Not the 'finish' event: the HTTP/2 compatibility layer emits it for reset streams too.
    let finished = false;
    let record: RecordedRequest | undefined;
    (res as AnyResponse).once('close', () => {
      this.#inFlight.delete(controller);
      controller.abort();
      if (record) this.#concurrency.finish(record.modelId, record);
      if (!finished && record) {
        record.aborted = true;
        this.#notify();
      }
    });

    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch (error) {
      if (controller.signal.aborted) return; // The client left while sending its request.
      throw error;
    }
    const body = parseBody(Buffer.concat(chunks).toString('utf8'));
    const authorization = req.headers.authorization;
    record = {
      id: this.requests.length + 1,
      operation: route[2] as Operation,
      modelId: decodeURIComponent(route[1] ?? ''),
      body,
      ...parseAuthorization(authorization),
      httpVersion: req.httpVersion === '2.0' ? '2.0' : '1.1',
      connectionId,
      status: undefined,
      aborted: controller.signal.aborted,
      startedAt: Date.now(),
    };
    this.requests.push(record);
    this.#onRequest?.(record);
    this.#notify();

    const current = record;
    const answer: Answer = {
      res,
      signal: controller.signal,
      onStatus: (status) => {
        current.status = status;
      },
      onEnd: () => {
        finished = true;
        this.#concurrency.finish(current.modelId, current);
      },
    };
    await this.#answer(answer, current, authorization);
  }

  async #answer(answer: Answer, record: RecordedRequest, authorization?: string): Promise<void> {
    if (!authorization) {
      sendError(answer, 'MissingAuthenticationTokenException');
      return;
    }
    const { body } = record;
    if (!body) {
      sendError(answer, 'ValidationException');
      return;
    }
    const traits = modelTraits(record.modelId);
    const prompt = new Prompt(body);
    const invalid =
      conversationError(body) ??
      guardrailConfigError(body, record.operation) ??
      cachePointError(prompt, traits) ??
      thinkingError(body, traits) ??
      reasoningError(body, this.#signer);
    if (invalid) {
      sendError(answer, 'ValidationException', invalid);
      return;
    }
    const refused = this.#refusals.has(record.modelId) && body.toolConfig !== undefined;
    if (record.operation === 'converse-stream' && refused) {
      sendError(answer, 'ValidationException', STREAMING_TOOL_USE_REFUSED);
      return;
    }
    if (!this.#concurrency.admit(record.modelId, record)) {
      sendError(answer, 'ThrottlingException');
      return;
    }

    const thinking = traits.thinking && thinkingEnabled(body);
    const reply =
      this.#queue.shift() ?? this.#script?.(body) ?? defaultReply(body, this.#paceMs, thinking);
    if (isErrorReply(reply)) {
      sendError(answer, reply.error, reply.message);
      return;
    }
    checkReply(reply);
    const context: PlanContext = {
      promptTokens: prompt.tokens(),
      cache: this.#cache.account(record.modelId, prompt, traits.caching?.minTokens ?? 0),
      sign: (text) => this.#signer.sign(text),
      guardrail: requestGuardrail(body),
    };
    const delayMs = reply.delayMs ?? this.#paceMs ?? 0;
    const send = record.operation === 'converse' ? sendConverse : sendStream;
    await send(answer, reply, context, delayMs);
  }

  #notify(): void {
    for (const waiter of this.#waiters) waiter();
  }

  #waitFor<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const waiter = () => {
        const value = check();
        if (value === undefined) return;
        this.#waiters.delete(waiter);
        clearTimeout(timer);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for ${what}; ${this.requests.length} request(s) recorded.`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
      waiter();
    });
  }
}

/** An error for a request that has no record (unknown route, emulator failure). */
function sendBare(res: ResponseLike, name: string, message: string): void {
  const ignore = () => {};
  sendError(
    { res, signal: new AbortController().signal, onStatus: ignore, onEnd: ignore },
    name,
    message,
  );
}

/** Starts an emulator on `host:port` (default 127.0.0.1, any free port). */
export async function startEmulator(options: StartOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  let emulator: Emulator | undefined;
  const listener = new DualProtocolListener((req, res, connectionId) =>
    emulator?.handle(req, res, connectionId),
  );
  const port = await listener.listen(options.port ?? 0, host);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  emulator = new Emulator(listener, `http://${urlHost}:${port}`, port, options);
  return emulator;
}
