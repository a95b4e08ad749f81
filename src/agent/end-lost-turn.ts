import { HumanMessage } from '@langchain/core/messages';
import type { Logger } from 'pino';
import { type FrameBus, failTurn, type TurnFailure } from '../bus/frame-bus.ts';
import { ProtocolError } from '../protocol/errors.ts';
import type { BedrockModels } from '../providers/bedrock/models.ts';
import type { LostReason, TurnJob } from '../queue/job-queue.ts';
import type { HistoryStore } from '../store/history-store.ts';

export interface EndLostTurnDeps {
  readonly bus: FrameBus;
  readonly store: HistoryStore;
  readonly models: BedrockModels;
  readonly log: Logger;
}

/**
 * Ends the turn of a job whose worker died (invariant 8 of docs/protocol.md): the user message
 * is stored once, then `error` worker_lost and `turn-end` are published unless the turn
 * has ended already. The turn is not run again. Throws when it could not do so; the
 * queue then retries. Every process with Redis runs it (gateways too), not only workers.
 */
export async function endLostTurn(
  deps: EndLostTurnDeps,
  job: TurnJob,
  why: LostReason = 'worker died',
): Promise<void> {
  const { bus, store, models } = deps;
  const log = deps.log.child({ turnId: job.turnId, conversationId: job.conversationId });
  if (!(await store.get(job.conversationId))) {
    log.warn('lost turn of a conversation that no longer exists');
    return;
  }
  const { state, frames } = await bus.replay(job.conversationId, 0);
  if (state.runningTurnId !== null && state.runningTurnId !== job.turnId) {
    log.warn({ running: state.runningTurnId }, 'lost turn never ran; another turn runs now');
    return;
  }
  await store.commitTurn(
    job.conversationId,
    job.turnId,
    [new HumanMessage(job.content)],
    new Date(),
  );
  const own = frames.map((p) => p.frame).filter((f) => f.turnId === job.turnId);
  if (own.some((f) => f.type === 'turn-end')) return;
  const text = own.map((f) => (f.type === 'token' ? f.text : '')).join('');
  log.warn('ending the turn of a lost worker');
  try {
    const lost: TurnFailure =
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
    await failTurn(
      bus,
      job.conversationId,
      job.turnId,
      own.some((f) => f.type === 'error') ? undefined : lost,
      {
        text,
        model: (models.find(job.model) ?? models.default).id,
        durationMs: Math.max(0, Date.now() - Date.parse(job.acceptedAt)) || 0,
      },
    );
  } catch (error) {
    if (!(error instanceof ProtocolError && error.code === 'worker_lost')) throw error;
    log.info('the turn had ended already');
  }
}
