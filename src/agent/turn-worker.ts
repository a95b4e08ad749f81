import { HumanMessage } from '@langchain/core/messages';
import type { FrameBus } from '../bus/frame-bus.ts';
import type { Metrics } from '../metrics.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { TurnEvent } from '../protocol/frames.ts';
import type { BedrockModels } from '../providers/bedrock/models.ts';
import type { JobQueue, TurnJob } from '../queue/job-queue.ts';
import type { HistoryStore } from '../store/history-store.ts';
import { asProtocolError, type RunnerOptions, runTurn, type TurnOutcome } from './runner.ts';

export interface TurnWorkerOptions extends RunnerOptions {
  readonly queue: JobQueue;
  readonly bus: FrameBus;
  readonly store: HistoryStore;
  readonly models: BedrockModels;
  readonly metrics?: Metrics;
}

/**
 * Takes turn jobs, runs the agent, publishes its frames, commits the turn to history and
 * then publishes `turn-end`: whoever sees `turn-end` finds the turn in history.
 */
export class TurnWorker {
  readonly #options: TurnWorkerOptions;
  readonly #running = new Map<string, Promise<void>>();

  constructor(options: TurnWorkerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#options.queue.consume((job, signal) => this.#track(job, signal));
  }

  /** Turns running in this worker. */
  get runningTurns(): number {
    return this.#running.size;
  }

  #track(job: TurnJob, signal: AbortSignal): Promise<void> {
    const run = this.#run(job, signal).finally(() => this.#running.delete(job.turnId));
    this.#running.set(job.turnId, run);
    return run;
  }

  async #run(job: TurnJob, signal: AbortSignal): Promise<void> {
    const { bus, store, models } = this.#options;
    const log = this.#options.log.child({ turnId: job.turnId, conversationId: job.conversationId });
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    const publish = (event: TurnEvent) => bus.publish(job.conversationId, job.turnId, event);
    const model = models.find(job.model) ?? models.default;
    const userMessage = new HumanMessage(job.content);
    // Aborted by a cancel, or by us when the turn cannot go on: the model call stops too.
    const controller = new AbortController();
    const forward = () => controller.abort();
    if (signal.aborted) controller.abort();
    else signal.addEventListener('abort', forward, { once: true });
    let turn: ReturnType<typeof runTurn> | undefined;
    let text = '';
    let errorSent = false;
    let outcome: Pick<TurnOutcome, 'stopReason' | 'usage'> = {
      stopReason: 'error',
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
    };
    try {
      const history = (await store.messages(job.conversationId)).map((m) => m.message);
      turn = runTurn(
        { ...this.#options, log },
        {
          model,
          history,
          userMessage,
          signal: controller.signal,
          ids: { conversationId: job.conversationId, turnId: job.turnId },
        },
      );
      for (let step = await turn.next(); ; step = await turn.next()) {
        if (step.done) {
          outcome = step.value;
          break;
        }
        await publish(step.value);
        if (step.value.type === 'token') {
          if (text === '') this.#options.metrics?.firstTokenSeconds.observe(elapsed());
          text += step.value.text;
        }
        if (step.value.type === 'error') errorSent = true;
      }
      const completed = [userMessage, ...(outcome as TurnOutcome).completed];
      await store.commitTurn(job.conversationId, job.turnId, completed, new Date());
    } catch (error) {
      // The store or the bus failed; the agent's own failures arrive as events.
      controller.abort();
      await turn
        ?.return(undefined as never)
        .catch((e: unknown) => log.debug({ err: e }, 'the aborted turn failed as it stopped'));
      // The user message is kept whatever happens (once: commits are per turn id).
      await store
        .commitTurn(job.conversationId, job.turnId, [userMessage], new Date())
        .catch((e: unknown) => log.warn({ err: e }, 'could not store the user message'));
      if (error instanceof ProtocolError && error.code === 'worker_lost') {
        // Another worker took this turn for lost and ended it: nothing more may follow.
        log.warn({ err: error }, 'turn was taken over; stopping');
        return;
      }
      const failure = asProtocolError(
        new ProtocolError(
          'unavailable',
          'A dependency failed during the turn; its answer was not stored.',
          { cause: error },
        ),
        log,
      );
      outcome = { ...outcome, stopReason: 'error' };
      if (!errorSent) {
        await publish({
          type: 'error',
          code: failure.code,
          message: failure.message,
          retryable: failure.retryable,
        }).catch((e: unknown) => log.error({ err: e }, 'could not publish the error'));
      }
    } finally {
      signal.removeEventListener('abort', forward);
    }
    await publish({
      type: 'turn-end',
      stopReason: outcome.stopReason,
      text,
      usage: outcome.usage,
      durationMs: Math.round(performance.now() - started),
      model: model.id,
    }).catch((e: unknown) => log.error({ err: e }, 'could not publish turn-end'));
    this.#options.metrics?.turns.inc({ stop_reason: outcome.stopReason });
    this.#options.metrics?.turnSeconds.observe(elapsed());
  }
}
