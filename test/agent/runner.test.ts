import { tool } from '@langchain/core/tools';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';
import { createAgentGraph } from '../../src/agent/graph.ts';
import { createModels } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { testEnv } from '../helpers/gateway.ts';
import { runWholeTurn } from '../helpers/run-turn.ts';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

it('cuts a tool output over 16 KiB in tool-end and flags it, but gives the model all of it', async () => {
  const config = loadConfig(testEnv(emulator));
  const log = pino({ level: 'silent' });
  const { models, clients } = createModels(config, log);
  const big = 'é'.repeat(10_000); // 20,000 UTF-8 bytes
  const dump = tool(async () => big, {
    name: 'dump',
    description: 'Returns a lot of text.',
    schema: z.object({}),
  });
  const graph = createAgentGraph({
    models,
    toolsFor: () => [dump],
    systemPrompt: 'test',
    maxSteps: 4,
    maxContextTokens: 100_000,
    toolTimeoutMs: 30_000,
  });
  emulator.enqueue(
    { blocks: [{ toolUse: { name: 'dump', input: {}, toolUseId: 'd1' } }] },
    { blocks: [{ text: 'That was long.' }] },
  );
  const { events, outcome } = await runWholeTurn(graph, models.default, 'dump it', log);
  clients.destroy();

  const end = events.find((e) => e.type === 'tool-end');
  expect(end).toMatchObject({
    type: 'tool-end',
    toolCallId: 'd1',
    truncated: true,
    isError: false,
  });
  const output = (end as { output: string }).output;
  // 8,192 two-byte characters: exactly 16 KiB, no character split.
  expect(output).toBe('é'.repeat(8192));
  expect(outcome.stopReason).toBe('end_turn');
  const stored = outcome.completed.find((m) => m.getType() === 'tool');
  expect(stored?.content).toBe(big);
  const second = emulator.requests[1]!.body as {
    messages: { content: { toolResult?: { content: { text: string }[] } }[] }[];
  };
  const sent = second.messages.at(-1)!.content.find((c) => c.toolResult)!.toolResult!;
  expect(sent.content[0]!.text).toBe(big);
});
