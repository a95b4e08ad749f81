import { Conversation } from './conversation.ts';
import { AgentgateError, type CloseInfo } from './errors.ts';
import { type Deferred, deferred } from './feed.ts';
import type {
  ApproveFrame,
  CancelFrame,
  ClientFrame,
  ErrorFrame,
  HistoryMessage,
  ReadyFrame,
  ServerFrame,
  SubscribedFrame,
  TurnFrame,
} from './frames.ts';
import { isTurnFrame } from './frames.ts';
import {
  OPEN,
  refusedStatus,
  socketArguments,
  type TokenPlacement,
  tokenRefused,
  type WebSocketConstructor,
  type WebSocketLike,
} from './socket.ts';
import { type ChatOptions, type Turn, TurnImpl } from './turn.ts';
import { type Resync, type SubscribeOptions, type Watch, WatchImpl } from './watch.ts';

/** How reconnecting backs off: jittered exponential from `initialDelayMs` up to `maxDelayMs`. */
export interface ReconnectOptions {
  /** Default 500. */
  initialDelayMs?: number;
  /** Default 15,000. */
  maxDelayMs?: number;
  /** Failed attempts in a row before giving up; default: no limit. */
  maxAttempts?: number;
}

export interface ConnectOptions {
  /** The gateway's WebSocket endpoint, e.g. `ws://127.0.0.1:3000/v1/ws`. */
  url: string | URL;
  /** An API key or JWT, when the gateway has auth on. */
  token?: string;
  /**
   * Where the token goes. Default: `header` (`Authorization: Bearer`) when a `WebSocket`
   * constructor is given (Node's `ws` can set headers), `query` (`?token=`) with the
   * global WebSocket (browsers cannot).
   */
  tokenVia?: TokenPlacement;
  /** The WebSocket constructor; default: the global one (browsers, Node 22+). Node 20: `ws`. */
  WebSocket?: WebSocketConstructor;
  /** `false`: a socket that closes is the end of the client. Default: reconnect. */
  reconnect?: ReconnectOptions | false;
}

/** `connecting` (first attempt), `open`, `reconnecting` (waiting to retry), `closed` (for good). */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** Failed attempts in a row (0 once open). */
  attempt: number;
  /** `reconnecting`: the wait before the next attempt. */
  delayMs?: number;
  /** `reconnecting` and `closed`: how the last socket ended. */
  close?: CloseInfo;
  /** `closed`: why the client stopped; absent after `close()`. */
  error?: AgentgateError;
}

/** The events of {@link Client.on}. */
export interface ClientEvents {
  /** Every frame received, as received (duplicates after a reconnect included). */
  frame: ServerFrame;
  state: StateChange;
  /** A conversation's frames were lost and its history reloaded (see {@link Resync}). */
  resync: Resync;
  /** An error frame that answers none of this client's requests. */
  error: AgentgateError;
}

/**
 * A frame waiting for its answer; the gateway answers a socket's frames in order, so an
 * error without a `requestId` answers the oldest one.
 */
type Pending =
  /** A chat: answered by its `turn-start`, or refused by an error. */
  | { kind: 'chat'; turn: TurnImpl }
  | {
      kind: 'subscribe';
      conv: Conversation;
      afterSeq: number | undefined;
      wasWatched: boolean;
      watches: WatchImpl[];
      /** A resubscription after a reconnect: failing it fails every consumer. */
      resume: boolean;
    }
  | {
      kind: 'history';
      conversationId: string;
      limit: number | undefined;
      done: Deferred<HistoryMessage[]>;
    }
  | Ack
  | { kind: 'ping'; pingId: number; done: Deferred<void> };

/**
 * A frame without an answer of its own, followed by a ping: the pong says it was taken.
 * Lost with its socket, it may or may not have been taken (see `Client.#unsure`).
 */
type Ack = { kind: 'ack'; pingId: number; done: Deferred<void> } & (
  | {
      frame: ApproveFrame;
      /** Its `approval-result` came: the request was answered (by this or another answer). */
      decided: boolean;
    }
  | {
      frame: CancelFrame;
      /** The turn it is for, when known: once that turn ended there is nothing to cancel. */
      turnId: string | undefined;
    }
);

/** Something to send once the connection is up; failed if the client stops first. */
interface Queued {
  send(): void;
  fail(error: AgentgateError): void;
}

const DEFAULT_INITIAL_DELAY_MS = 500;
const DEFAULT_MAX_DELAY_MS = 15_000;

/** The wait before reconnect attempt `attempt` (0-based): half fixed, half random. */
export function backoffDelay(
  attempt: number,
  initialDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
  return Math.round(base / 2 + random() * (base / 2));
}

/** A cancel for `turnId` (any turn when undefined) has nothing left to stop. */
function isOver(running: string | null | undefined, turnId: string | undefined): boolean {
  if (running === null) return true;
  return running !== undefined && turnId !== undefined && running !== turnId;
}

function closedError(message: string, close?: CloseInfo): AgentgateError {
  return new AgentgateError('connection_closed', message, { close });
}

let requestCounter = 0;
function newRequestId(prefix: string): string {
  requestCounter += 1;
  return `${prefix}${requestCounter.toString(36)}.${Math.random().toString(36).slice(2, 10)}`;
}

/**
 * A connection to an agentgate gateway that survives reconnects: chats, watches, history,
 * cancel and approve, over one WebSocket at a time. After an unexpected close it backs off,
 * reconnects and resubscribes every conversation it consumes with `afterSeq`, so a chat's
 * frames and a watch's frames arrive with no gap and no duplicate. Build it with
 * {@link connect}.
 */
export class Client {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #tokenVia: TokenPlacement;
  readonly #WebSocket: WebSocketConstructor;
  readonly #reconnect: Required<ReconnectOptions> | false;
  readonly #listeners = new Map<keyof ClientEvents, Set<(value: never) => void>>();
  readonly #conversations = new Map<string, Conversation>();
  readonly #pending: Pending[] = [];
  readonly #outbox: Queued[] = [];
  /**
   * Cancels and approves lost with their socket before their pong: taken or not, nobody
   * knows. Decided once the next socket's replays have come (#settleUnsure).
   */
  readonly #unsure: Ack[] = [];
  readonly #opened = deferred<Client>();
  #socket: WebSocketLike | undefined;
  /** Bumped for every socket: events of an older one are ignored. */
  #generation = 0;
  #ready: ReadyFrame | undefined;
  #defaultConversationId: string | undefined;
  #state: ConnectionState = 'connecting';
  /** Socket open, `ready` received and every conversation resubscribed. */
  #live = false;
  #stopped = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pingCounter = 0;
  #closedSocket: Deferred<void> | undefined;

  /** Starts connecting at once; {@link connect} waits for the first `ready`. */
  constructor(options: ConnectOptions) {
    this.#url = String(options.url);
    this.#token = options.token;
    const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const Ctor = options.WebSocket ?? global;
    if (!Ctor) {
      throw new TypeError(
        'No WebSocket here: pass one, e.g. connect({ url, WebSocket }) with `import WebSocket from "ws"`.',
      );
    }
    this.#WebSocket = Ctor;
    this.#tokenVia = options.tokenVia ?? (options.WebSocket ? 'header' : 'query');
    this.#reconnect =
      options.reconnect === false
        ? false
        : {
            initialDelayMs: options.reconnect?.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS,
            maxDelayMs: options.reconnect?.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
            maxAttempts: options.reconnect?.maxAttempts ?? Number.POSITIVE_INFINITY,
          };
    this.#open();
  }

  /** Resolves once the first `ready` came; rejects if the client stops before. */
  get opened(): Promise<Client> {
    return this.#opened.promise;
  }

  /** The latest `ready` (after a reconnect, the new session's); throws before the first. */
  get ready(): ReadyFrame {
    if (!this.#ready) throw new Error('agentgate: no ready frame yet; await connect().');
    return this.#ready;
  }

  /** Where chats and `history` go that name no conversation: the first `ready`'s. */
  get conversationId(): string {
    if (this.#defaultConversationId === undefined) this.ready;
    return this.#defaultConversationId!;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** Listens to an event; returns the function that stops listening. */
  on<E extends keyof ClientEvents>(
    event: E,
    listener: (value: ClientEvents[E]) => void,
  ): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  /** Sends a chat; the returned {@link Turn} gives its frames and its end. */
  chat(content: string, options: ChatOptions = {}): Turn {
    const turn = new TurnImpl(
      options.conversationId ?? this.#defaultConversationId ?? '',
      newRequestId('q'),
      content,
      options,
      (t) => this.#cancelTurn(t),
    );
    if (this.#stopped) {
      turn.fail(closedError('The client is closed.'));
      return turn;
    }
    if (options.signal?.aborted) {
      turn.fail(new AgentgateError('aborted', 'The chat was aborted before it was sent.'));
      return turn;
    }
    // Before the first ready the default conversation is not known: placed when sent.
    if (turn.conversationId) this.#conversation(turn.conversationId).turns.add(turn);
    const { signal } = options;
    if (signal) {
      // A signal may outlive many chats: its listener goes when the turn settles.
      const onAbort = () => this.#abortTurn(turn);
      signal.addEventListener('abort', onAbort, { once: true });
      turn.whenDone(() => signal.removeEventListener('abort', onAbort));
    }
    this.#whenLive({ send: () => this.#sendChat(turn), fail: (error) => turn.fail(error) });
    return turn;
  }

  /**
   * Stops the running turn of a conversation (it ends with `stopReason: "cancelled"`).
   * With `turnId`, only that turn: nothing is sent when another is known to run. Resolves
   * once the gateway took the frame; rejects with `forbidden` / `not_found`.
   */
  cancel(conversationId: string, turnId?: string): Promise<void> {
    const conv = this.#conversations.get(conversationId);
    if (turnId !== undefined && conv?.running !== undefined && conv.running !== turnId) {
      return Promise.resolve();
    }
    const done = deferred<void>();
    const frame: CancelFrame = { type: 'cancel', conversationId };
    this.#whenLive({
      send: () => {
        const target = turnId ?? this.#conversations.get(conversationId)?.running ?? undefined;
        this.#request({ kind: 'ack', frame, turnId: target, pingId: ++this.#pingCounter, done });
      },
      fail: (error) => done.reject(error),
    });
    return done.promise;
  }

  /**
   * Answers a request for approval (`approval-request`). Resolves once the gateway took it
   * (the turn then sends `approval-result`); rejects with `no_pending_approval` when no
   * such request waits.
   */
  approve(
    conversationId: string,
    toolCallId: string,
    decision: 'approve' | 'reject',
    reason?: string,
  ): Promise<void> {
    const done = deferred<void>();
    const frame: ApproveFrame = {
      type: 'approve',
      conversationId,
      toolCallId,
      decision,
      ...(reason !== undefined ? { reason } : {}),
      requestId: newRequestId('a'),
    };
    this.#whenLive({
      send: () =>
        this.#request({ kind: 'ack', frame, decided: false, pingId: ++this.#pingCounter, done }),
      fail: (error) => done.reject(error),
    });
    return done.promise;
  }

  /** Watches a conversation's frames (see {@link Watch}); `afterSeq` replays from there. */
  subscribe(conversationId: string, options: SubscribeOptions = {}): Watch {
    const watch = new WatchImpl(conversationId, options, (w) => this.#unwatch(w));
    if (this.#stopped) {
      watch.fail(closedError('The client is closed.'));
      return watch;
    }
    const conv = this.#conversation(conversationId);
    conv.watches.add(watch);
    this.#whenLive({
      send: () => {
        if (!watch.requested && !watch.ended) {
          this.#subscribeConversation(conv, watch.afterSeq, [watch]);
        }
      },
      fail: (error) => watch.fail(error),
    });
    return watch;
  }

  /** A conversation's messages, oldest first (the last `limit` of them). */
  history(conversationId?: string, options: { limit?: number } = {}): Promise<HistoryMessage[]> {
    const done = deferred<HistoryMessage[]>();
    this.#whenLive({
      send: () =>
        this.#request({
          kind: 'history',
          conversationId: conversationId ?? this.conversationId,
          limit: options.limit,
          done,
        }),
      fail: (error) => done.reject(error),
    });
    return done.promise;
  }

  /**
   * Closes the socket and stops reconnecting. Watches end; chats still running and
   * requests still waiting fail with `connection_closed` (their turns go on at the gateway).
   */
  async close(): Promise<void> {
    if (this.#stopped) return this.#closedSocket?.promise;
    this.#stop(closedError('The client was closed.'), undefined);
    const socket = this.#socket;
    if (socket) {
      this.#closedSocket = deferred();
      socket.close(1000, 'client closed');
      await this.#closedSocket.promise;
    }
  }

  // ---- connection -------------------------------------------------------------------

  #open(): void {
    const generation = ++this.#generation;
    let socket: WebSocketLike;
    try {
      const { url, options } = socketArguments(this.#url, this.#token, this.#tokenVia);
      socket = new this.#WebSocket(url, [], options);
    } catch (error) {
      // A malformed URL: nothing to retry.
      this.#stop(
        closedError(`Cannot open ${this.#url}: ${(error as Error).message}`, {
          code: 1006,
          reason: '',
          cause: error,
        }),
        undefined,
      );
      return;
    }
    this.#socket = socket;
    let readySeen = false;
    let failure: { message?: string; error?: unknown } | undefined;
    socket.addEventListener('error', (event) => {
      failure = event;
    });
    socket.addEventListener('message', (event) => {
      if (generation !== this.#generation || typeof event.data !== 'string') return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data) as ServerFrame;
      } catch {
        return;
      }
      if (frame.type === 'ready') readySeen = true;
      this.#receive(frame);
    });
    socket.addEventListener('close', (event) => {
      if (generation !== this.#generation) {
        this.#closedSocket?.resolve();
        return;
      }
      this.#closedSocket?.resolve();
      const close: CloseInfo = {
        code: event.code,
        reason: event.reason,
        status: failure ? refusedStatus(failure) : undefined,
        cause: failure?.error,
      };
      void this.#dropped(close, readySeen);
    });
  }

  /** The socket closed: decide whether and when to try again. */
  async #dropped(close: CloseInfo, readySeen: boolean): Promise<void> {
    this.#socket = undefined;
    this.#live = false;
    this.#requeue();
    if (this.#stopped) return;
    const generation = this.#generation;
    if (!readySeen) {
      const refused =
        close.status === 401 ||
        close.status === 403 ||
        (close.status === undefined && (await tokenRefused(this.#url, this.#token)));
      if (this.#stopped || generation !== this.#generation) return;
      if (refused) {
        const why = close.status === 403 ? "this page's origin" : 'the token';
        this.#stop(
          new AgentgateError(
            close.status === 403 ? 'forbidden' : 'unauthorized',
            `The gateway refused ${why} (HTTP ${close.status ?? 401}).`,
            { close },
          ),
          close,
        );
        return;
      }
    }
    if (close.code === 1008) {
      this.#stop(
        closedError(`The gateway closed the socket (1008 ${close.reason}).`, close),
        close,
      );
      return;
    }
    if (this.#reconnect === false) {
      this.#stop(closedError(`The socket closed (${close.code} ${close.reason}).`, close), close);
      return;
    }
    if (this.#attempt >= this.#reconnect.maxAttempts) {
      this.#stop(
        closedError(`Gave up after ${this.#attempt} attempts to reconnect.`, close),
        close,
      );
      return;
    }
    const delayMs = backoffDelay(
      this.#attempt,
      this.#reconnect.initialDelayMs,
      this.#reconnect.maxDelayMs,
    );
    this.#attempt += 1;
    this.#setState({ state: 'reconnecting', attempt: this.#attempt, delayMs, close });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.#open();
    }, delayMs);
  }

  /** A new session said `ready`: resubscribe, settle chats lost on the way, then go live. */
  #onReady(frame: ReadyFrame): void {
    this.#ready = frame;
    this.#defaultConversationId ??= frame.conversationId;
    this.#attempt = 0;
    // The ready conversation is fresh: nothing has happened in it.
    const fresh = this.#conversations.get(frame.conversationId);
    if (fresh) fresh.seq ??= 0;
    const resume = [...this.#conversations.values()].filter((c) => !c.idle);
    for (const conv of resume) {
      const watches = [...conv.watches].filter((w) => !w.requested && !w.ended);
      this.#subscribeConversation(conv, conv.resumePoint(), watches, true);
    }
    const unanswered = resume.flatMap((c) => [...c.turns].filter((t) => t.sent && !t.id));
    if (resume.length === 0) {
      this.#settleUnsure(new Set());
      this.#goLive();
      return;
    }
    // The replays come before the pong: a chat whose turn-start is not among them was lost
    // (a replay with a gap proves nothing: #resync fails those chats instead).
    const generation = this.#generation;
    this.#ping().then(
      () => {
        if (generation !== this.#generation) return;
        for (const turn of unanswered) if (!turn.id && !turn.done) this.#sendChat(turn);
        this.#settleUnsure(new Set(resume));
        this.#goLive();
      },
      () => {},
    );
  }

  /**
   * Decides what to do with the cancels and approves lost with the last socket, now that
   * the `resumed` conversations' replays have come: an approve whose `approval-result` was
   * seen is not sent again (it would meet `no_pending_approval`) but resolves; a cancel is
   * sent again only while the turn it was for still runs (else it could stop a newer turn),
   * and resolves otherwise. Without a replay to tell, both are sent again.
   */
  #settleUnsure(resumed: ReadonlySet<Conversation>): void {
    const again: Queued[] = [];
    for (const entry of this.#unsure.splice(0)) {
      const conv = this.#conversations.get(entry.frame.conversationId);
      const known = conv !== undefined && resumed.has(conv);
      if ('decided' in entry ? entry.decided : known && isOver(conv.running, entry.turnId)) {
        entry.done.resolve();
        continue;
      }
      again.push({
        send: () => this.#request({ ...entry, pingId: ++this.#pingCounter }),
        fail: (e) => entry.done.reject(e),
      });
    }
    this.#outbox.unshift(...again);
  }

  #goLive(): void {
    this.#live = true;
    this.#setState({ state: 'open', attempt: 0 });
    this.#opened.resolve(this);
    for (const item of this.#outbox.splice(0)) item.send();
  }

  /** After a drop: what was waiting for an answer is asked again on the next socket. */
  #requeue(): void {
    for (const conv of this.#conversations.values()) {
      conv.watched = false;
      conv.gapBase = undefined;
      for (const watch of conv.watches) if (!watch.started) watch.requested = false;
    }
    const lost = this.#pending.splice(0);
    const again: Queued[] = [];
    for (const entry of lost) {
      switch (entry.kind) {
        case 'chat':
          // Still in its conversation: looked for in the replay, sent again if not there.
          break;
        case 'subscribe':
          // Watches not yet started are in their conversation: resubscribed on ready.
          break;
        case 'history':
          again.push({ send: () => this.#request(entry), fail: (e) => entry.done.reject(e) });
          break;
        case 'ack':
          this.#unsure.push(entry);
          break;
        case 'ping':
          entry.done.reject(closedError('The socket closed.'));
          break;
      }
    }
    this.#outbox.unshift(...again);
  }

  /** Stops for good: every consumer and request ends or fails with `error`. */
  #stop(error: AgentgateError, close: CloseInfo | undefined): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#live = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const entry of this.#pending.splice(0)) {
      // Chats fail with their conversations below.
      if (entry.kind === 'subscribe' || entry.kind === 'chat') continue;
      entry.done.reject(error);
    }
    for (const item of this.#outbox.splice(0)) item.fail(error);
    for (const entry of this.#unsure.splice(0)) entry.done.reject(error);
    const byClose = error.code === 'connection_closed' && close === undefined;
    for (const conv of this.#conversations.values()) {
      for (const turn of conv.turns) turn.fail(error);
      conv.turns.clear();
      for (const watch of conv.watches) {
        if (byClose && watch.started) watch.end();
        else watch.fail(error);
      }
      conv.held = null;
      conv.watches.clear();
    }
    this.#opened.reject(error);
    this.#setState({
      state: 'closed',
      attempt: this.#attempt,
      ...(close ? { close } : {}),
      ...(byClose ? {} : { error }),
    });
  }

  #setState(change: StateChange): void {
    this.#state = change.state;
    this.#emit('state', change);
  }

  #emit<E extends keyof ClientEvents>(event: E, value: ClientEvents[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: ClientEvents[E]) => void)(value);
      } catch (error) {
        // A listener's bug must not break the connection; it still surfaces.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  // ---- sending ----------------------------------------------------------------------

  #write(frame: ClientFrame): void {
    const socket = this.#socket;
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(frame));
  }

  #whenLive(item: Queued): void {
    if (this.#stopped) item.fail(closedError('The client is closed.'));
    else if (this.#live) item.send();
    else this.#outbox.push(item);
  }

  /** Sends a request whose answer (or error) comes in order. */
  #request(entry: Pending): void {
    this.#pending.push(entry);
    switch (entry.kind) {
      case 'chat': {
        const { turn } = entry;
        const { model, agent } = turn.options;
        this.#write({
          type: 'chat',
          content: turn.content,
          conversationId: turn.conversationId,
          requestId: turn.requestId,
          ...(model !== undefined ? { model } : {}),
          ...(agent !== undefined ? { agent } : {}),
        });
        return;
      }
      case 'subscribe':
        this.#write({
          type: 'subscribe',
          conversationId: entry.conv.id,
          ...(entry.afterSeq !== undefined ? { afterSeq: entry.afterSeq } : {}),
        });
        return;
      case 'history':
        this.#write({
          type: 'history',
          conversationId: entry.conversationId,
          ...(entry.limit !== undefined ? { limit: entry.limit } : {}),
        });
        return;
      case 'ack':
        this.#write(entry.frame);
        this.#write({ type: 'ping', id: entry.pingId });
        return;
      case 'ping':
        this.#write({ type: 'ping', id: entry.pingId });
        return;
    }
  }

  #ping(): Promise<void> {
    const done = deferred<void>();
    this.#request({ kind: 'ping', pingId: ++this.#pingCounter, done });
    return done.promise;
  }

  #subscribeConversation(
    conv: Conversation,
    afterSeq: number | undefined,
    watches: WatchImpl[],
    resume = false,
  ): void {
    const wasWatched = conv.watched;
    conv.watched = true;
    for (const watch of watches) watch.requested = true;
    this.#request({ kind: 'subscribe', conv, afterSeq, wasWatched, watches, resume });
  }

  #sendChat(turn: TurnImpl): void {
    if (turn.done) return;
    if (!turn.conversationId) {
      turn.conversationId = this.conversationId;
      this.#conversation(turn.conversationId).turns.add(turn);
    }
    const conv = this.#conversation(turn.conversationId);
    // A conversation this socket does not relay yet: subscribe first, so its seq is known
    // before the turn starts (the gateway answers in order).
    if (!conv.watched && conv.id !== this.#ready?.conversationId) {
      this.#subscribeConversation(conv, conv.resumePoint(), []);
    }
    conv.watched = true;
    turn.sent = true;
    turn.sentAfterSeq = conv.seq;
    this.#request({ kind: 'chat', turn });
  }

  #abortTurn(turn: TurnImpl): void {
    if (turn.done) return;
    if (!turn.sent) {
      this.#conversations.get(turn.conversationId)?.turns.delete(turn);
      turn.fail(
        new AgentgateError('aborted', 'The chat was aborted before it was sent.', {
          requestId: turn.requestId,
        }),
      );
      return;
    }
    void this.#cancelTurn(turn).catch(() => {});
  }

  #cancelTurn(turn: TurnImpl): Promise<void> {
    if (turn.done) return Promise.resolve();
    if (turn.id === undefined) {
      turn.cancelWanted = true;
      if (!turn.sent) this.#abortTurn(turn);
      return Promise.resolve();
    }
    return this.cancel(turn.conversationId, turn.id);
  }

  #unwatch(watch: WatchImpl): void {
    const conv = this.#conversations.get(watch.conversationId);
    if (!conv) return;
    conv.watches.delete(watch);
    if (conv.idle && conv.watched && this.#live) {
      conv.watched = false;
      this.#write({ type: 'unsubscribe', conversationId: conv.id });
    }
  }

  #conversation(id: string): Conversation {
    let conv = this.#conversations.get(id);
    if (!conv) {
      conv = new Conversation(id, id === this.#ready?.conversationId ? 0 : undefined);
      this.#conversations.set(id, conv);
    }
    return conv;
  }

  // ---- receiving --------------------------------------------------------------------

  #receive(frame: ServerFrame): void {
    this.#emit('frame', frame);
    if (isTurnFrame(frame)) {
      this.#onTurnFrame(frame);
      return;
    }
    switch (frame.type) {
      case 'ready':
        this.#onReady(frame);
        return;
      case 'subscribed':
        this.#onSubscribed(frame);
        return;
      case 'history': {
        const at = this.#pending.findIndex(
          (p) => p.kind === 'history' && p.conversationId === frame.conversationId,
        );
        const entry = at < 0 ? undefined : this.#pending.splice(at, 1)[0];
        if (entry?.kind === 'history') entry.done.resolve(frame.messages);
        return;
      }
      case 'pong': {
        const at = this.#pending.findIndex(
          (p) => (p.kind === 'ack' || p.kind === 'ping') && p.pingId === frame.id,
        );
        const entry = at < 0 ? undefined : this.#pending.splice(at, 1)[0];
        if (entry?.kind === 'ack' || entry?.kind === 'ping') entry.done.resolve();
        return;
      }
      case 'error':
        this.#onError(frame);
        return;
    }
  }

  #onTurnFrame(frame: TurnFrame): void {
    // A turn-start answers its chat, even while the conversation's frames are held.
    if (frame.type === 'turn-start' && frame.requestId !== undefined) {
      this.#answered(frame.requestId);
    }
    if (frame.type === 'approval-result') {
      for (const entry of [...this.#pending, ...this.#unsure]) {
        if (
          entry.kind === 'ack' &&
          'decided' in entry &&
          entry.frame.conversationId === frame.conversationId &&
          entry.frame.toolCallId === frame.toolCallId
        ) {
          entry.decided = true;
        }
      }
    }
    const conv = this.#conversations.get(frame.conversationId);
    if (!conv) return;
    if (conv.held) {
      conv.held.push(frame);
      return;
    }
    conv.gapBase = undefined;
    conv.seq = Math.max(conv.seq ?? 0, frame.seq);
    if (frame.type === 'turn-start') {
      conv.running = frame.turnId;
      for (const turn of conv.turns) {
        if (turn.id === undefined && turn.requestId === frame.requestId) {
          turn.accept(frame);
          if (turn.cancelWanted) void this.cancel(conv.id, turn.id).catch(() => {});
        }
      }
    } else if (frame.type === 'turn-end') {
      conv.running = null;
    }
    for (const turn of conv.turns) {
      if (turn.id !== frame.turnId) continue;
      turn.accept(frame);
      if (turn.done) conv.turns.delete(turn);
    }
    for (const watch of conv.watches) watch.accept(frame);
  }

  #onSubscribed(frame: SubscribedFrame): void {
    const at = this.#pending.findIndex(
      (p) => p.kind === 'subscribe' && p.conv.id === frame.conversationId,
    );
    const entry = at < 0 ? undefined : this.#pending.splice(at, 1)[0];
    const conv = this.#conversation(frame.conversationId);
    if (entry?.kind === 'subscribe') {
      // Mirror what the gateway now relays from (docs/protocol.md "Watching, resuming").
      if (entry.afterSeq !== undefined) conv.seq = Math.min(entry.afterSeq, frame.lastSeq);
      else if (!entry.wasWatched || conv.seq === undefined) conv.seq = frame.lastSeq;
      for (const watch of entry.watches) watch.start(frame);
    }
    conv.running = frame.runningTurnId;
    conv.gapBase = frame.lastSeq;
  }

  #onError(frame: ErrorFrame): void {
    const error = AgentgateError.fromFrame(frame);
    if (frame.requestId !== undefined) {
      const entry = this.#answered(frame.requestId);
      if (entry?.kind === 'ack') entry.done.reject(error);
      // A chat, or one sent again after a reconnect (no longer waiting, still in its turns).
      else if (!this.#refuseChat(frame.requestId, error)) this.#emit('error', error);
      return;
    }
    if (frame.code === 'replay_gap' && frame.conversationId !== undefined) {
      this.#resync(frame.conversationId);
      return;
    }
    // Errors without a requestId (a frame over the socket's frame rate, a subscribe or
    // history refused) answer the oldest frame waiting, in order, a chat as well.
    const entry = this.#pending.shift();
    if (!entry) {
      this.#emit('error', error);
      return;
    }
    if (entry.kind === 'chat') {
      this.#refuseChat(entry.turn.requestId, error);
      return;
    }
    if (entry.kind !== 'subscribe') {
      entry.done.reject(error);
      return;
    }
    for (const watch of entry.watches) {
      watch.fail(error);
      entry.conv.watches.delete(watch);
    }
    if (entry.resume) {
      // The conversation cannot be resumed (gone with its store, or no longer yours).
      for (const turn of entry.conv.turns) turn.fail(error);
      entry.conv.turns.clear();
      for (const watch of entry.conv.watches) watch.fail(error);
      entry.conv.watches.clear();
      entry.conv.watched = false;
    }
  }

  /** A chat refused with `error`; false when no chat waits with that requestId. */
  #refuseChat(requestId: string, error: AgentgateError): boolean {
    for (const conv of this.#conversations.values()) {
      for (const turn of conv.turns) {
        if (turn.requestId !== requestId) continue;
        // A chat sent again after a reconnect whose first sending had started the turn.
        if (turn.id !== undefined) return true;
        conv.turns.delete(turn);
        turn.fail(error);
        return true;
      }
    }
    return false;
  }

  /** Takes the frame waiting with `requestId` (a chat or an approve) out of the queue. */
  #answered(requestId: string): Pending | undefined {
    const at = this.#pending.findIndex((p) =>
      p.kind === 'chat'
        ? p.turn.requestId === requestId
        : p.kind === 'ack' && 'requestId' in p.frame && p.frame.requestId === requestId,
    );
    return at < 0 ? undefined : this.#pending.splice(at, 1)[0];
  }

  /**
   * Frames of a conversation are gone (`replay_gap`): chats whose frames were lost fail
   * (and, after a reconnect, chats not known to have started), the history is reloaded,
   * watches get a {@link Resync}, then frames go on.
   */
  #resync(conversationId: string): void {
    const conv = this.#conversations.get(conversationId);
    if (!conv) return;
    if (conv.held) {
      // Gone again while the history loads (a reconnect met the same gap): what was held is
      // older than where the gateway now resumes, and the history on its way covers it.
      conv.held = [];
      conv.resyncLastSeq = conv.gapBase;
      conv.seq = conv.gapBase;
      conv.gapBase = undefined;
      return;
    }
    const lastSeq = conv.gapBase;
    conv.resyncLastSeq = lastSeq;
    conv.gapBase = undefined;
    conv.seq = lastSeq;
    conv.held = [];
    const lost = (cursor: number | undefined) =>
      lastSeq === undefined || cursor === undefined || cursor < lastSeq;
    const error = new AgentgateError(
      'replay_gap',
      `Frames of conversation ${conversationId} were lost before this client could receive them; its history was reloaded (the resync event).`,
      { conversationId },
    );
    // Not live: this gap answers the resubscribe after a reconnect. A chat sent on the old
    // socket whose turn-start had not come may have started within the lost frames: sending
    // it again could run it twice, so it fails (the history shows whether it ran).
    const resuming = !this.#live;
    for (const turn of conv.turns) {
      if (turn.id === undefined ? !(resuming && turn.sent) : !lost(turn.cursor)) continue;
      conv.turns.delete(turn);
      turn.fail(error);
    }
    const behind = [...conv.watches].filter((w) => w.started && lost(w.cursor));
    const done = deferred<HistoryMessage[]>();
    this.#request({ kind: 'history', conversationId, limit: undefined, done });
    done.promise.then(
      (messages) => {
        const resync: Resync = {
          type: 'resync',
          conversationId,
          messages,
          lastSeq: conv.resyncLastSeq,
        };
        for (const watch of behind) watch.resync(resync);
        this.#emit('resync', resync);
        const held = conv.held ?? [];
        conv.held = null;
        for (const frame of held) this.#onTurnFrame(frame);
      },
      (failure: unknown) => {
        conv.held = null;
        if (!(failure instanceof AgentgateError) || failure.code === 'connection_closed') return;
        for (const turn of conv.turns) turn.fail(failure);
        conv.turns.clear();
        for (const watch of conv.watches) watch.fail(failure);
        conv.watches.clear();
      },
    );
  }
}

/**
 * Connects to a gateway and resolves once it said `ready` (the first attempt may be
 * retried, as any reconnect). Rejects when the gateway refuses the token (`unauthorized`)
 * or the client gives up.
 */
export function connect(options: ConnectOptions): Promise<Client> {
  return new Client(options).opened;
}
