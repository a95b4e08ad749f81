import type { ChatModels } from '../agent/chat-models.ts';
import type { AgentCatalog } from '../agents/catalog.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { ChatFrame } from '../protocol/frames.ts';
import type { JobQueue } from '../queue/job-queue.ts';
import type { HistoryStore } from '../store/history-store.ts';
import type { Turns } from '../turns/turns.ts';
import type { Conversations } from './conversations.ts';
import { newId } from './ids.ts';
import type { UserTurnLimiter } from './turn-limiter.ts';

export interface ChatAdmissionDeps {
  readonly models: ChatModels;
  readonly agents: AgentCatalog;
  readonly conversations: Conversations;
  readonly store: HistoryStore;
  readonly queue: JobQueue;
  readonly limiter: UserTurnLimiter;
  readonly turns: Turns;
}

/** Where a chat goes, and what the sender needs in place before its turn starts. */
export interface ChatTarget {
  readonly conversationId: string;
  /** The sender's own ready conversation, while it has not created it. */
  readonly fresh: string | undefined;
  /**
   * The sender named the conversation itself and may create it (the HTTP adapters'
   * client-made ids): an id nobody has used is theirs, one issued to another user is not.
   */
  readonly claim?: boolean;
  /** Subscribes the sender; done before `turn-start`, so it sees the whole turn. */
  readonly watch: () => Promise<void>;
}

/**
 * Decides whether a chat becomes a turn, in the gateway that received it: a known model
 * and agent, a conversation the user may use, a worker alive, the user under their turn limit, and no
 * turn running in the conversation. Nothing is stored or started for a refused chat but
 * the conversation itself. The turn then belongs to {@link Turns}.
 */
export class ChatAdmission {
  readonly #d: ChatAdmissionDeps;

  constructor(deps: ChatAdmissionDeps) {
    this.#d = deps;
  }

  /**
   * Admits and starts the turn, returning its id, or throws the ProtocolError that refuses
   * the chat.
   */
  async admit(userId: string, frame: ChatFrame, target: ChatTarget): Promise<string> {
    const { models, agents, conversations, store, queue, limiter, turns } = this.#d;
    if (frame.agent !== undefined && !agents.find(frame.agent)) {
      throw new ProtocolError(
        'unknown_agent',
        `Unknown agent "${frame.agent}"; use one of ready.agents (${agents.definitions.map((a) => a.id).join(', ')}).`,
      );
    }
    if (frame.model !== undefined && !models.find(frame.model)) {
      throw new ProtocolError(
        'unknown_model',
        `Unknown model "${frame.model}"; use one of ready.models.`,
      );
    }
    const { conversationId } = target;
    const meta = await conversations.access(userId, conversationId, target.fresh, {
      claim: target.claim ?? false,
    });
    // The conversation's agent unless the chat names one; one gone from the file: the default.
    const agent = agents.find(frame.agent ?? meta?.agent) ?? agents.default;
    // A graph agent runs the model it was built with; the own loop takes the chat's choice.
    const chosen = agent.graph === undefined ? (frame.model ?? agent.model) : agent.model;
    const model = models.find(chosen) ?? models.default;
    if (!(await queue.workersAlive())) {
      throw new ProtocolError(
        'unavailable',
        'No worker is running to take this turn; try again shortly.',
      );
    }
    if (!meta) {
      const now = new Date().toISOString();
      const created = await store.create({
        id: conversationId,
        owner: userId,
        model: model.id,
        title: frame.content.slice(0, 80),
        agent: agent.id,
        createdAt: now,
        updatedAt: now,
      });
      // Another chat created it first: it may be this user's (another tab), or, for an id
      // a client named, another user's; access decides again on what is stored now.
      if (!created) await conversations.access(userId, conversationId);
    }
    const turnId = newId('t');
    if (!limiter.tryAcquire(userId, turnId)) {
      throw new ProtocolError(
        'rate_limited',
        `You already run ${limiter.running(userId)} turns; wait for one to end.`,
      );
    }
    let unwatch: (() => void) | undefined;
    try {
      unwatch = await limiter.watch(userId, conversationId, turnId);
      await target.watch();
      const started = await turns.start({
        turnId,
        conversationId,
        userId,
        content: frame.content,
        model: model.id,
        agent: agent.id,
        ...(frame.requestId !== undefined ? { requestId: frame.requestId } : {}),
        acceptedAt: new Date().toISOString(),
      });
      if (started === 'busy') {
        throw new ProtocolError(
          'turn_in_progress',
          `Conversation ${conversationId} is already running a turn.`,
        );
      }
      return turnId;
    } catch (error) {
      unwatch ? unwatch() : limiter.release(userId, turnId);
      throw error;
    }
  }
}
