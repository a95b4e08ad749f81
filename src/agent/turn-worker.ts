import { HumanMessage } from '@langchain/core/messages';
import type { FrameBus } from '../bus/frame-bus.ts';
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

  /** Resolves when every running turn has ended, or after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<void> {
    const all = Promise.allSettled(this.#running.values());
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
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
    const publish = (event: TurnEvent) => bus.publish(job.conversationId, job.turnId, event);
    const model = models.find(job.model) ?? models.default;
    const userMessage = new HumanMessage(job.content);
    let text = '';
    let errorSent = false;
    let outcome: Pick<TurnOutcome, 'stopReason' | 'usage'> = {
      stopReason: 'error',
      usage: { inputTokens: 0, outputTokens: 0, totalTokens: 0 },
    };
    try {
      const history = (await store.messages(job.conversationId)).map((m) => m.message);
      const turn = runTurn({ ...this.#options, log }, { model, history, userMessage, signal });
      for (let step = await turn.next(); ; step = await turn.next()) {
        if (step.done) {
          outcome = step.value;
          break;
        }
        await publish(step.value);
        if (step.value.type === 'token') text += step.value.text;
        if (step.value.type === 'error') errorSent = true;
      }
      const completed = [userMessage, ...(outcome as TurnOutcome).completed];
      await store.commitTurn(job.conversationId, job.turnId, completed, new Date());
    } catch (error) {
      // The store or the bus failed; the agent's own failures arrive as events.
      const failure = asProtocolError(
        new ProtocolError(
          'unavailable',
          'A dependency failed during the turn; it was not stored.',
          {
            cause: error,
          },
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
    }
    await publish({
      type: 'turn-end',
      stopReason: outcome.stopReason,
      text,
      usage: outcome.usage,
      durationMs: Math.round(performance.now() - started),
      model: model.id,
    }).catch((e: unknown) => log.error({ err: e }, 'could not publish turn-end'));
  }
}
