import { AIMessage, type BaseMessage, HumanMessage } from '@langchain/core/messages';
import type { Logger } from 'pino';
import { type ChatModels, roundUsd, type TokenCounts } from '../agent/chat-models.ts';
import { asProtocolError, type RunnerOptions, runTurn, type TurnAgent } from '../agent/runner.ts';
import { errorEvent, type FrameBus, type TurnFailure } from '../bus/frame-bus.ts';
import type { Metrics } from '../metrics.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { type StopReason, type TurnEvent, type Usage, ZERO_USAGE } from '../protocol/frames.ts';
import { OpenCalls } from '../protocol/open-calls.ts';
import type { JobQueue, LostReason, TurnJob } from '../queue/job-queue.ts';
import type { HistoryStore, TurnOutcome } from '../store/history-store.ts';

export interface TurnsDeps {
  readonly store: HistoryStore;
  readonly bus: FrameBus;
  readonly queue: JobQueue;
  readonly models: ChatModels;
  readonly log: Logger;
  readonly metrics?: Metrics;
}

/** How a turn ended: it ran to a stop reason, or it failed around the agent. */
export type TurnEnding =
  | {
      readonly kind: 'ran';
      readonly stopReason: StopReason;
      readonly usage: Usage;
      readonly tokensByModel: ReadonlyMap<string, TokenCounts>;
      /** The AI and tool messages the turn completed. */
      readonly completed: readonly BaseMessage[];
      /** Text of a model call cut short (cancel, error): kept as the last message. */
      readonly unsettledText: string;
    }
  | {
      readonly kind: 'failed';
      /** Undefined when the turn sent its `error` already. */
      readonly failure: TurnFailure | undefined;
    };

/** The `kind` label of the token counter, and the count it takes. */
const TOKEN_KINDS = {
  input: 'inputTokens',
  output: 'outputTokens',
  cache_read: 'cacheReadInputTokens',
  cache_write: 'cacheWriteInputTokens',
} as const satisfies Record<string, keyof TokenCounts>;

/** How this process runs turns: the runner's options and the agents it has. */
export interface TurnRunner extends RunnerOptions {
  readonly agents: { get(id: string): TurnAgent | undefined };
}

/** `taken over`: another process ended the turn first (its worker was taken for lost). */
export type EndResult = 'ended' | 'taken over';

/** What a turn has sent so far, for its `turn-end`; `startedAt` on performance.now(). */
interface TurnProgress {
  text: string;
  errorSent: boolean;
  readonly startedAt: number;
}

/**
 * The one owner of a turn's life, whatever the transport: it starts (turn-start, then the
 * job), runs (in a worker: the agent's events become frames) and ends turns. Every way a
 * turn ends (done, error, cancel, step limit, a dependency failing, a job that could not
 * be queued, a lost worker, no worker) goes through one end: the turn's messages
 * are committed once, then its `error` (if any) and `turn-end` are published, so whoever
 * sees `turn-end` finds the turn in history.
 */
export class Turns {
  readonly #d: TurnsDeps;

  constructor(deps: TurnsDeps) {
    this.#d = deps;
  }

  /**
   * Starts an accepted turn: the conversation's activity (its place in its owner's list),
   * `turn-start`, then its job. `busy` when the conversation runs a turn already (nothing
   * was published). A job that cannot be queued ends the turn at once.
   */
  async start(job: TurnJob): Promise<'started' | 'busy'> {
    // Before `turn-start`, so that whoever sees it finds the conversation listed (a first
    // turn) and in its place. A chat refused as busy has then moved a conversation whose
    // turn runs anyway. Only logged when it fails: the turn's end lists it again.
    await this.#d.store
      .touch(job.conversationId, new Date())
      .catch((e: unknown) => this.#log(job).warn({ err: e }, 'could not record the turn start'));
    const started = await this.#d.bus.startTurn(job.conversationId, job.turnId, {
      type: 'turn-start',
      model: job.model,
      agent: job.agent,
      ...(job.requestId !== undefined ? { requestId: job.requestId } : {}),
      userMessage: { content: job.content },
    });
    if (!started) return 'busy';
    try {
      await this.#d.queue.enqueue(job);
    } catch (error) {
      this.#log(job).error({ err: error }, 'could not queue the turn');
      await this.#end(job, progress(performance.now()), {
        kind: 'failed',
        failure: {
          code: 'unavailable',
          message: 'The turn could not be queued; try again.',
          retryable: true,
        },
      });
    }
    return 'started';
  }

  /**
   * Runs a job's turn in this process: the agent's events are published as frames, then the
   * turn ends. `signal` aborts on cancel (the model call stops too).
   */
  async run(job: TurnJob, signal: AbortSignal, runner: TurnRunner): Promise<void> {
    const { bus, store, metrics } = this.#d;
    const log = this.#log(job);
    const sent = progress(performance.now());
    const controller = new AbortController();
    const forward = () => controller.abort();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', forward, { once: true });
    let ending: TurnEnding;
    let turn: ReturnType<typeof runTurn> | undefined;
    try {
      const agent = runner.agents.get(job.agent);
      if (!agent) {
        throw new ProtocolError(
          'unknown_agent',
          `This worker has no agent "${job.agent}": its AGENTS_FILE differs from the gateway's.`,
        );
      }
      const history = (await store.messages(job.conversationId)).map((m) => m.message);
      turn = runTurn(
        { ...runner, log },
        {
          agent,
          model: this.#model(job),
          history,
          userMessage: new HumanMessage(job.content),
          signal: controller.signal,
          ids: { conversationId: job.conversationId, turnId: job.turnId },
        },
      );
      for (let step = await turn.next(); ; step = await turn.next()) {
        if (step.done) {
          ending = { kind: 'ran', ...step.value };
          break;
        }
        const event = step.value;
        if (!(await bus.publish(job.conversationId, job.turnId, event))) {
          log.warn('the turn was taken over; stopping it');
          controller.abort();
          await turn.return(undefined as never);
          return;
        }
        if (event.type === 'token') {
          if (sent.text === '') metrics?.firstTokenSeconds.observe(elapsedMs(sent) / 1000);
          sent.text += event.text;
        } else if (event.type === 'error') {
          sent.errorSent = true;
        }
      }
    } catch (error) {
      // The store or the bus failed (the agent's own failures arrive as events), or the
      // worker lacks the job's agent.
      controller.abort();
      await turn
        ?.return(undefined as never)
        .catch((e: unknown) => log.debug({ err: e }, 'the aborted turn failed as it stopped'));
      const failure = asProtocolError(
        error instanceof ProtocolError
          ? error
          : new ProtocolError(
              'unavailable',
              'A dependency failed during the turn; its answer was not stored.',
              { cause: error },
            ),
        log,
      );
      ending = { kind: 'failed', failure };
    } finally {
      signal.removeEventListener('abort', forward);
    }
    // Throws when even the ending cannot be stored and published (Redis is down): the queue
    // then leaves the job unacknowledged, and a reclaimer ends the turn once Redis answers.
    await this.#end(job, sent, ending);
  }

  /**
   * Ends the turn of a job that will not run (its worker died, or no worker is alive), unless
   * it ended already or never started. Not run again: tools may have side effects. Throws
   * when it could not (the queue then tries again).
   */
  async endLost(job: TurnJob, why: LostReason): Promise<void> {
    const { bus, store } = this.#d;
    const log = this.#log(job);
    if (!(await store.get(job.conversationId))) {
      log.warn('lost turn of a conversation that no longer exists');
      return;
    }
    const { state, frames } = await bus.replay(job.conversationId, 0);
    if (state.runningTurnId !== null && state.runningTurnId !== job.turnId) {
      log.warn({ running: state.runningTurnId }, 'lost turn never ran; another turn runs now');
      return;
    }
    const own = frames.map((p) => p.frame).filter((f) => f.turnId === job.turnId);
    const sent: TurnProgress = {
      text: own.map((f) => (f.type === 'token' ? f.text : '')).join(''),
      errorSent: own.some((f) => f.type === 'error'),
      startedAt: performance.now() - Math.max(0, Date.now() - Date.parse(job.acceptedAt) || 0),
    };
    if (own.some((f) => f.type === 'turn-end')) {
      // Ended, but its worker may have died before its commit: the user message stays.
      await this.#commit(job, []);
      return;
    }
    log.warn({ why }, 'ending a turn that will not run');
    const calls = new OpenCalls();
    for (const frame of own) calls.follow(frame);
    const closing = calls.closing(
      'The process running this turn stopped during this call; its result is unknown.',
    );
    const failure: TurnFailure =
      why === 'no worker'
        ? {
            code: 'unavailable',
            message: 'No worker is running to take this turn; the turn was ended. Send it again.',
            retryable: true,
          }
        : {
            code: 'worker_lost',
            message: 'The process running this turn stopped; the turn was ended. Send it again.',
            retryable: true,
          };
    const result = await this.#end(job, sent, { kind: 'failed', failure }, closing);
    if (result === 'taken over') log.info('the turn had ended already');
  }

  /**
   * The end of every turn: commits its messages (the user message at least, exactly once),
   * then publishes what closes its open tool calls (`closing`), its `error` (unless sent)
   * and its `turn-end`.
   */
  async #end(
    job: TurnJob,
    sent: TurnProgress,
    ending: TurnEnding,
    closing: readonly TurnEvent[] = [],
  ): Promise<EndResult> {
    const log = this.#log(job);
    let stopReason: StopReason = 'error';
    let usage: Usage = { ...ZERO_USAGE };
    let failure = ending.kind === 'failed' ? ending.failure : undefined;
    if (ending.kind === 'ran') {
      stopReason = ending.stopReason;
      usage = this.#priced(job, ending.usage, ending.tokensByModel);
      const kept =
        ending.unsettledText !== '' && (stopReason === 'cancelled' || stopReason === 'error')
          ? [new AIMessage(ending.unsettledText)]
          : [];
      try {
        await this.#commit(job, [...ending.completed, ...kept], { stopReason, usage });
      } catch (error) {
        failure = asProtocolError(
          new ProtocolError('unavailable', 'The answer could not be stored; send it again.', {
            cause: error,
          }),
          log,
        );
        stopReason = 'error';
      }
    }
    if (ending.kind === 'failed' || failure) {
      // The user message is kept whatever happens (once: commits are per turn id).
      await this.#commit(job, []).catch((e: unknown) =>
        log.warn({ err: e }, 'could not store the user message'),
      );
    }
    const turnEnd: TurnEvent = {
      type: 'turn-end',
      stopReason,
      text: sent.text,
      usage,
      durationMs: Math.round(elapsedMs(sent)),
      model: this.#model(job).id,
    };
    const events: TurnEvent[] = [
      ...closing,
      ...(failure && !sent.errorSent ? [errorEvent(failure)] : []),
      turnEnd,
    ];
    for (const event of events) {
      if (!(await this.#d.bus.publish(job.conversationId, job.turnId, event))) return 'taken over';
    }
    this.#d.metrics?.turns.inc({ stop_reason: stopReason });
    this.#d.metrics?.turnSeconds.observe(elapsedMs(sent) / 1000);
    return 'ended';
  }

  /**
   * The turn's usage with its cost, when every model it called has a price; counts each
   * model's tokens and cost in the metrics, by user.
   */
  #priced(job: TurnJob, usage: Usage, byModel: ReadonlyMap<string, TokenCounts>): Usage {
    const metrics = this.#d.metrics;
    let costUsd: number | undefined = 0;
    for (const [model, tokens] of byModel) {
      const cost = this.#d.models.costUsd(model, tokens);
      costUsd = cost === undefined || costUsd === undefined ? undefined : costUsd + cost;
      if (!metrics) continue;
      const labels = { model, user: job.userId };
      for (const [kind, count] of Object.entries(TOKEN_KINDS)) {
        metrics.modelTokens.inc({ ...labels, kind }, tokens[count]);
      }
      if (cost !== undefined) metrics.modelCostUsd.inc(labels, cost);
    }
    return costUsd === undefined ? usage : { ...usage, costUsd: roundUsd(costUsd) };
  }

  async #commit(job: TurnJob, messages: readonly BaseMessage[], outcome?: TurnOutcome) {
    const all = [new HumanMessage(job.content), ...messages];
    await this.#d.store.commitTurn(job.conversationId, job.turnId, all, new Date(), outcome);
  }

  #model(job: TurnJob) {
    return this.#d.models.find(job.model) ?? this.#d.models.default;
  }

  #log(job: TurnJob): Logger {
    return this.#d.log.child({ turnId: job.turnId, conversationId: job.conversationId });
  }
}

function progress(startedAt: number): TurnProgress {
  return { text: '', errorSent: false, startedAt };
}

function elapsedMs(sent: TurnProgress): number {
  return Math.max(0, performance.now() - sent.startedAt);
}
