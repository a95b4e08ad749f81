import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ChatModels } from '../agent/chat-models.ts';
import type { AgentCatalog } from '../agents/catalog.ts';
import type { Approvals } from '../approvals/approvals.ts';
import { assertNever } from '../assert-never.ts';
import type { ConversationFrames, FrameBus, PublishedFrame } from '../bus/frame-bus.ts';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../metrics.ts';
import { CLOSE_CODES, errorBody, ProtocolError } from '../protocol/errors.ts';
import {
  type ApproveFrame,
  type ChatFrame,
  type ClientFrame,
  MAX_CONTENT_CHARS,
  type PendingApproval,
  PROTOCOL_VERSION,
  type ServerFrame,
} from '../protocol/frames.ts';
import { parseClientFrame } from '../protocol/parse.ts';
import type { ChatAdmission } from './chat-admission.ts';
import type { Conversations } from './conversations.ts';
import { DrainWatch } from './drain-watch.ts';
import type { FrameSink, SubscriptionHub } from './hub.ts';
import { newId } from './ids.ts';

/** What a session needs of the socket; the session never sees the transport itself. */
export interface Transport {
  send(json: string): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

export interface SessionDeps {
  readonly bus: FrameBus;
  readonly hub: SubscriptionHub;
  readonly models: ChatModels;
  readonly agents: AgentCatalog;
  readonly approvals: Approvals;
  readonly conversations: Conversations;
  readonly admission: ChatAdmission;
  readonly limits: Config['limits'];
  readonly metrics: Metrics;
  readonly log: Logger;
}

/** Per conversation watched: the newest seq this socket has been sent, and frames held back. */
interface Watch extends FrameSink {
  lastSentSeq: number;
  held: PublishedFrame[] | null;
}

/**
 * One client's protocol session: parses frames, answers them, and relays the turn frames
 * of the conversations it watches, in seq order, with no gap and no duplicate.
 */
export class Session {
  readonly id = newId('s');
  readonly userId: string;
  /** The conversation announced in `ready`, used by chats that name none. */
  #readyConversationId = '';
  /** The ready conversation until this session creates it: it needs no stored data. */
  #fresh: string | undefined;
  readonly #deps: SessionDeps;
  readonly #transport: Transport;
  readonly #log: Logger;
  readonly #watches = new Map<string, Watch>();
  readonly #drain: DrainWatch;
  #tokens: number;
  #refilledAt = performance.now();
  #closed = false;

  constructor(userId: string, transport: Transport, deps: SessionDeps) {
    this.userId = userId;
    this.#deps = deps;
    this.#transport = transport;
    this.#tokens = deps.limits.frameBurst;
    this.#log = deps.log.child({ sessionId: this.id, userId });
    this.#drain = new DrainWatch({
      limitBytes: deps.limits.maxClientBufferBytes,
      buffered: () => transport.bufferedAmount,
      onStall: () => this.#tooSlow('client drains nothing'),
    });
  }

  /** Sends `ready` with a conversation issued to this user; frames wait for it. */
  async start(): Promise<void> {
    try {
      this.#readyConversationId = await this.#deps.conversations.ids.issue(this.userId);
    } catch (error) {
      // Redis is down: an id only this socket recognises (chats are refused meanwhile).
      this.#log.warn({ err: error }, 'could not issue a shared conversation id');
      this.#readyConversationId = newId('c');
    }
    this.#fresh = this.#readyConversationId;
    this.#send({
      type: 'ready',
      protocol: PROTOCOL_VERSION,
      sessionId: this.id,
      userId: this.userId,
      conversationId: this.#readyConversationId,
      models: this.#deps.models.entries.map((m, i) => ({
        id: m.id,
        label: m.label,
        region: m.region,
        default: i === 0,
      })),
      agents: this.#deps.agents.info(),
      limits: {
        maxFrameBytes: this.#deps.limits.maxFrameBytes,
        maxContentChars: MAX_CONTENT_CHARS,
      },
    });
  }

  /** Handles one client frame; never throws. */
  async receive(data: Buffer | string, isBinary: boolean): Promise<void> {
    if (!this.#takeToken()) {
      this.#error(new ProtocolError('rate_limited', 'Too many frames; slow down.'));
      return;
    }
    const parsed = parseClientFrame(data, isBinary, this.#deps.limits.maxFrameBytes);
    if (!parsed.ok) {
      this.#error(parsed.error, parsed.requestId);
      return;
    }
    const frame = parsed.frame;
    const requestId =
      frame.type === 'chat' || frame.type === 'approve' ? frame.requestId : undefined;
    try {
      await this.#handle(frame);
    } catch (error) {
      this.#error(this.#asClientError(error), requestId);
    }
  }

  /** Stops relaying; running turns go on. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#drain.stop();
    for (const [conversationId, watch] of this.#watches)
      this.#deps.hub.remove(conversationId, watch);
    this.#watches.clear();
  }

  async #handle(frame: ClientFrame): Promise<void> {
    const { conversations } = this.#deps;
    switch (frame.type) {
      case 'chat':
        return this.#chat(frame);
      case 'subscribe':
        await conversations.access(this.userId, frame.conversationId, this.#fresh);
        return this.#watch(frame.conversationId, frame.afterSeq, true);
      case 'unsubscribe': {
        const watch = this.#watches.get(frame.conversationId);
        if (watch) {
          this.#watches.delete(frame.conversationId);
          this.#deps.hub.remove(frame.conversationId, watch);
        }
        return;
      }
      case 'cancel':
        await conversations.access(this.userId, frame.conversationId, this.#fresh);
        await conversations.cancel(frame.conversationId);
        return;
      case 'history': {
        const conversationId = frame.conversationId ?? this.#readyConversationId;
        const meta = await conversations.access(this.userId, conversationId, this.#fresh);
        const messages = meta ? await conversations.history(conversationId, frame.limit) : [];
        this.#send({ type: 'history', conversationId, messages });
        return;
      }
      case 'approve':
        return this.#approve(frame);
      case 'ping':
        this.#send({ type: 'pong', ...(frame.id !== undefined ? { id: frame.id } : {}) });
        return;
      default:
        assertNever(frame);
    }
  }

  async #chat(frame: ChatFrame): Promise<void> {
    const conversationId = frame.conversationId ?? this.#readyConversationId;
    await this.#deps.admission.admit(this.userId, frame, {
      conversationId,
      fresh: this.#fresh,
      watch: () => this.#watch(conversationId, undefined, false),
    });
    if (conversationId === this.#fresh) this.#fresh = undefined;
  }

  /** Answers a request for approval: the first answer, from any socket or gateway, wins. */
  async #approve(frame: ApproveFrame): Promise<void> {
    await this.#deps.conversations.access(this.userId, frame.conversationId, this.#fresh);
    const answered = await this.#deps.approvals.answer(frame.conversationId, frame.toolCallId, {
      decision: frame.decision,
      decidedBy: this.userId,
      ...(frame.reason !== undefined ? { reason: frame.reason } : {}),
    });
    if (!answered) {
      throw new ProtocolError(
        'no_pending_approval',
        `No request for approval of tool call ${frame.toolCallId} is waiting in conversation ${frame.conversationId} (answered already, timed out, or its turn ended).`,
      );
    }
  }

  /** `subscribed`, with the requests of the running turn still waiting for an answer. */
  #subscribed(
    conversationId: string,
    state: ConversationFrames,
    pendingApprovals: readonly PendingApproval[],
  ): void {
    this.#send({
      type: 'subscribed',
      conversationId,
      ...state,
      pendingApprovals: [...pendingApprovals],
    });
  }

  /**
   * Starts relaying a conversation. Live frames are held from before the replay is read
   * until it has been sent, then released past the newest seq sent: no gap, no duplicate.
   * An explicit `subscribe` is answered with `subscribed`; the implicit one of a chat is not.
   */
  async #watch(conversationId: string, afterSeq: number | undefined, announce: boolean) {
    const previous = this.#watches.get(conversationId);
    if (previous && afterSeq === undefined) {
      if (announce) {
        const { state } = await this.#deps.bus.replay(conversationId);
        const pending = await this.#deps.approvals.pending(conversationId, state.runningTurnId);
        this.#subscribed(conversationId, state, pending);
      }
      return;
    }
    if (previous) this.#deps.hub.remove(conversationId, previous);
    const watch: Watch = {
      lastSentSeq: Number.POSITIVE_INFINITY,
      held: [],
      deliver: (published) => {
        if (watch.held) watch.held.push(published);
        else this.#relay(watch, published);
      },
      reset: (lastSeq) => {
        watch.lastSentSeq = lastSeq;
        if (watch.held) watch.held = [];
        this.#error(
          new ProtocolError(
            'replay_gap',
            `Frames of conversation ${conversationId} were lost (dropped on the way, or its store lost its data); load its history, then resume from seq ${lastSeq}.`,
          ),
          undefined,
          conversationId,
        );
      },
      unreachable: () => {
        this.#log.warn({ conversationId }, 'state store unreachable during a turn; closing');
        this.#transport.close(
          CLOSE_CODES.serviceRestart,
          'state store unreachable; reconnect and subscribe with afterSeq',
        );
        this.close();
      },
    };
    this.#watches.set(conversationId, watch);
    let replay: Awaited<ReturnType<FrameBus['replay']>>;
    let pending: readonly PendingApproval[] = [];
    try {
      await this.#deps.hub.add(conversationId, watch);
      replay = await this.#deps.bus.replay(conversationId, afterSeq);
      if (announce) {
        pending = await this.#deps.approvals.pending(conversationId, replay.state.runningTurnId);
      }
    } catch (error) {
      // Redis is down: watch nothing rather than hold frames forever.
      this.#watches.delete(conversationId);
      this.#deps.hub.remove(conversationId, watch);
      throw error;
    }
    const { state, frames } = replay;
    if (announce) this.#subscribed(conversationId, state, pending);
    watch.lastSentSeq = Math.min(afterSeq ?? state.lastSeq, state.lastSeq);
    if (afterSeq !== undefined && afterSeq > state.lastSeq) {
      // Seqs this conversation never reached: its frames were lost, or the client is wrong.
      this.#error(
        new ProtocolError(
          'replay_gap',
          `afterSeq ${afterSeq} is beyond the last seq of conversation ${conversationId} (${state.lastSeq}); load history, then resume from ${state.lastSeq}.`,
        ),
        undefined,
        conversationId,
      );
    } else if (watch.lastSentSeq + 1 < state.firstRetainedSeq) {
      this.#error(
        new ProtocolError(
          'replay_gap',
          `Frames after seq ${watch.lastSentSeq} are no longer retained (the oldest kept is ${state.firstRetainedSeq}); load history, then resume from ${state.lastSeq}.`,
        ),
        undefined,
        conversationId,
      );
      watch.lastSentSeq = state.lastSeq;
    } else {
      for (const published of frames) this.#relay(watch, published);
    }
    const held = watch.held ?? [];
    watch.held = null;
    for (const published of held) this.#relay(watch, published);
  }

  #relay(watch: Watch, published: PublishedFrame): void {
    if (published.frame.seq <= watch.lastSentSeq) return;
    watch.lastSentSeq = published.frame.seq;
    this.#write(published.json);
  }

  #send(frame: ServerFrame): void {
    this.#write(JSON.stringify(frame));
  }

  #error(error: ProtocolError, requestId?: string, conversationId?: string): void {
    this.#deps.metrics.clientErrors.inc({ code: error.code });
    this.#send({
      type: 'error',
      ...errorBody(error, requestId),
      ...(conversationId !== undefined ? { conversationId } : {}),
    });
  }

  /**
   * Writes unless the client has stopped reading (see DrainWatch): one that holds too much
   * unsent, or stays over the limit without draining, is closed with 1013.
   */
  #write(json: string): void {
    if (this.#closed) return;
    if (!this.#drain.mayWrite()) {
      this.#tooSlow('client holds too much unsent');
      return;
    }
    const before = this.#transport.bufferedAmount;
    this.#transport.send(json);
    this.#drain.wrote(before);
    this.#deps.metrics.framesSent.inc();
  }

  #tooSlow(why: string): void {
    if (this.#closed) return;
    this.#log.warn({ buffered: this.#transport.bufferedAmount }, `${why}; closing`);
    this.#transport.close(CLOSE_CODES.tryAgainLater, 'client too slow');
    this.close();
  }

  #takeToken(): boolean {
    const now = performance.now();
    const { framesPerSecond, frameBurst } = this.#deps.limits;
    this.#tokens = Math.min(
      frameBurst,
      this.#tokens + ((now - this.#refilledAt) / 1000) * framesPerSecond,
    );
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #asClientError(error: unknown): ProtocolError {
    if (error instanceof ProtocolError) return error;
    const correlationId = randomUUID();
    this.#log.error({ err: error, correlationId }, 'frame handling failed');
    return new ProtocolError('internal', `Internal error (correlation id ${correlationId}).`);
  }
}
