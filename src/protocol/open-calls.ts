import type { TurnEvent } from './frames.ts';

interface OpenCall {
  readonly name: string;
  /** performance.now() at its `tool-start`, for the `durationMs` of a closing `tool-end`. */
  readonly startedAt: number;
  awaitingApproval: boolean;
}

/**
 * The tool calls a turn has open, followed frame by frame, and what closes them when the
 * turn stops before they end (invariants 3 and 9): a request for approval still waiting
 * gets `approval-result` `cancelled`; each call gets its `tool-end`, an error saying why.
 * The one account of open calls, wherever a turn is ended: by its runner (cancel, error,
 * step limit), by whoever ends a lost worker's turn, by a gateway whose Redis lost the log.
 */
export class OpenCalls {
  readonly #calls = new Map<string, OpenCall>();

  follow(frame: TurnEvent): void {
    switch (frame.type) {
      case 'tool-start':
        this.#calls.set(frame.toolCallId, {
          name: frame.name,
          startedAt: performance.now(),
          awaitingApproval: false,
        });
        break;
      case 'approval-request':
      case 'approval-result': {
        const call = this.#calls.get(frame.toolCallId);
        if (call) call.awaitingApproval = frame.type === 'approval-request';
        break;
      }
      case 'tool-end':
        this.#calls.delete(frame.toolCallId);
        break;
    }
  }

  /** Whether the call has a `tool-start` and no `tool-end` yet. */
  isOpen(toolCallId: string): boolean {
    return this.#calls.has(toolCallId);
  }

  /** Whether the call has an `approval-request` and no `approval-result` yet. */
  awaitsApproval(toolCallId: string): boolean {
    return this.#calls.get(toolCallId)?.awaitingApproval === true;
  }

  /** The frames that close every open call, `why` in their `tool-end` output. */
  closing(why: string): TurnEvent[] {
    return [...this.#calls].flatMap(([toolCallId, call]): TurnEvent[] => [
      ...(call.awaitingApproval
        ? [{ type: 'approval-result' as const, toolCallId, decision: 'cancelled' as const }]
        : []),
      {
        type: 'tool-end',
        toolCallId,
        name: call.name,
        output: `Error: ${why}`,
        isError: true,
        durationMs: Math.round(performance.now() - call.startedAt),
      },
    ]);
  }
}
