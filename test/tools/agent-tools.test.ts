import { StructuredTool } from '@langchain/core/tools';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgentGraph } from '../../src/agent/graph.ts';
import { BUILTIN_TOOLS } from '../../src/agent/tools/index.ts';
import { createModels } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { loadToolModules, moduleSource } from '../../src/tools/modules.ts';
import { assembleTools, type ToolSource } from '../../src/tools/toolbox.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { testEnv } from '../helpers/gateway.ts';
import { runWholeTurn } from '../helpers/run-turn.ts';

const EXAMPLE = 'examples/tools/support-tickets.ts';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

/** A tool that never answers and never looks at its signal. */
class StuckTool extends StructuredTool {
  name = 'stuck';
  description = 'Never answers.';
  schema = z.object({});
  protected override _call(): Promise<string> {
    return new Promise(() => {});
  }
}

/**
 * One turn through the real graph, with the built-ins, the example module and `extra`
 * tools, against the emulator (which plays the replies queued before): its events, the
 * end, and the body of every Converse request.
 */
async function turnWith(extra: ToolSource[], env: Record<string, string> = {}) {
  const config = loadConfig(testEnv(emulator, { TOOL_MODULES: EXAMPLE, ...env }));
  const log = pino({ level: 'silent' });
  const { models, clients } = createModels(config, log);
  const modules = await loadToolModules(config.tools.modules);
  const toolbox = assembleTools([
    { source: 'built-in', tools: BUILTIN_TOOLS },
    ...modules.map((m) => ({ source: moduleSource(m.module), tools: m.tools })),
    ...extra,
  ]);
  const tools = [...toolbox.values()].map((entry) => entry.tool);
  const graph = createAgentGraph({
    models,
    toolsFor: () => tools,
    systemPrompt: 'test',
    maxSteps: 4,
    maxContextTokens: 100_000,
    toolTimeoutMs: config.tools.timeoutMs,
  });
  const requestsBefore = emulator.requests.length;
  const { events, outcome } = await runWholeTurn(
    graph,
    models.default,
    'What about ticket 1001?',
    log,
  );
  clients.destroy();
  const requests = emulator.requests.slice(requestsBefore).map(
    (r) =>
      r.body as {
        messages: {
          content: { toolResult?: { status?: string; content: { text: string }[] } }[];
        }[];
      },
  );
  return { events, end: outcome, requests };
}

/** The toolResult the model received in the request after the tool call. */
function sentResult(requests: Awaited<ReturnType<typeof turnWith>>['requests']) {
  return requests[1]!.messages.at(-1)!.content.find((c) => c.toolResult)!.toolResult!;
}

describe('module tools in a turn', () => {
  it('gives the model the validation message of bad input, and the turn goes on to an answer', async () => {
    emulator.enqueue(
      { blocks: [{ toolUse: { name: 'lookup_ticket', input: { id: 1001 }, toolUseId: 'v1' } }] },
      {
        blocks: [{ toolUse: { name: 'lookup_ticket', input: { id: 'T-1001' }, toolUseId: 'v2' } }],
      },
      { blocks: [{ text: 'Ticket T-1001 is open.' }] },
    );
    const { events, end, requests } = await turnWith([]);
    const message =
      'Error: invalid input for tool "lookup_ticket": id: Invalid input: expected string, received number';
    const ends = events.filter((e) => e.type === 'tool-end');
    expect(ends).toMatchObject([
      { toolCallId: 'v1', name: 'lookup_ticket', isError: true, output: message },
      { toolCallId: 'v2', name: 'lookup_ticket', isError: false },
    ]);
    expect((ends[1] as { output: string }).output).toContain('"status":"open"');
    expect(end.stopReason).toBe('end_turn');
    expect(end.text).toBe('Ticket T-1001 is open.');
    expect(sentResult(requests)).toMatchObject({ content: [{ text: message }] });
  });

  it('ends a tool call at TOOL_TIMEOUT_MS and the turn goes on', async () => {
    emulator.enqueue(
      { blocks: [{ toolUse: { name: 'stuck', input: {}, toolUseId: 's1' } }] },
      { blocks: [{ text: 'The tool did not answer in time.' }] },
    );
    const started = performance.now();
    const { events, end, requests } = await turnWith(
      [{ source: 'skill test', tools: [new StuckTool()] }],
      { TOOL_TIMEOUT_MS: '200' },
    );
    expect(performance.now() - started).toBeLessThan(5_000);
    const message = 'Error: Tool stuck timed out after 200 ms.';
    expect(events.find((e) => e.type === 'tool-end')).toMatchObject({
      toolCallId: 's1',
      isError: true,
      output: message,
    });
    expect(end.stopReason).toBe('end_turn');
    expect(sentResult(requests)).toMatchObject({ content: [{ text: message }] });
  });
});
