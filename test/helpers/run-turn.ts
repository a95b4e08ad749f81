import { HumanMessage } from '@langchain/core/messages';
import type pino from 'pino';
import type { ChatModelInfo } from '../../src/agent/chat-models.ts';
import { runTurn, type TurnAgent, type TurnOutcome } from '../../src/agent/runner.ts';
import type { TurnEvent } from '../../src/protocol/frames.ts';

/** Runs one turn of a graph with no history, to its end: its events and its outcome. */
export async function runWholeTurn(
  graph: TurnAgent['graph'],
  model: ChatModelInfo,
  question: string,
  log: pino.Logger,
): Promise<{ events: TurnEvent[]; outcome: TurnOutcome }> {
  const turn = runTurn(
    { log, logStreamEvents: false },
    {
      agent: { id: 'test', graph, recursionLimit: 10 },
      model,
      history: [],
      userMessage: new HumanMessage(question),
      signal: new AbortController().signal,
    },
  );
  const events: TurnEvent[] = [];
  for (let step = await turn.next(); ; step = await turn.next()) {
    if (step.done) return { events, outcome: step.value };
    events.push(step.value);
  }
}
