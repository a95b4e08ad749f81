/**
 * `npm run bench:layers -- [--chunks N] [--rounds N]`: where agentgate's CPU per streamed
 * chunk goes, layer by layer, in this one process against the bench's emulator (in a
 * process of its own, unpaced). Each round runs one answer through each layer, so drift
 * of the machine hits every layer alike:
 *
 *   sdk    BedrockRuntimeClient ConverseStream, JSON.stringify per text delta: the floor's work
 *   model  + ChatBedrockConverse (LangChain chunks, aggregation, callbacks)
 *   graph  + the agent's LangGraph loop (the answer comes after a calculator round trip)
 *   turn   + runTurn: the turn's callback handler, normaliser and event queue, a frame each
 *
 * docs/performance.md has the figures and what they say.
 */
import { ConverseStreamCommand, type Message } from '@aws-sdk/client-bedrock-runtime';
import { BaseCallbackHandler } from '@langchain/core/callbacks/base';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import pino from 'pino';
import { createAgentGraph } from '../src/agent/graph.ts';
import { runTurn } from '../src/agent/runner.ts';
import { BUILTIN_TOOLS } from '../src/agent/tools/index.ts';
import { createModels } from '../src/app.ts';
import { loadConfig } from '../src/config/config.ts';
import { BENCH_TOOL } from '../test/emulator/index.ts';
import { freePort, killAll } from './bench/children.ts';
import { startBenchEmulator } from './bench/systems.ts';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`bench:layers: --${name} takes a whole number ≥ 1.\n`);
    process.exit(2);
  }
  return value;
}

const CHUNKS = option('chunks', 2000);
const ROUNDS = option('rounds', 8);

const emulator = await startBenchEmulator(
  { chunks: CHUNKS, chunkChars: 4, delayMs: 0, firstChunkMs: 0 },
  await freePort(),
);
process.on('exit', killAll);

const config = loadConfig({
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
  AWS_ACCESS_KEY_ID: 'AKIDBENCH',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_EC2_METADATA_DISABLED: 'true',
});
const log = pino({ level: 'silent' });
const { models, clients } = createModels(config, log);
const model = models.default;
const tools = BUILTIN_TOOLS;

/** The conversation after the bench's tool round trip: the next call streams the answer. */
const QUESTION = 'bench layers';
const TOOL_USE_ID = 'tu_layers';
const afterTool = [
  new HumanMessage(QUESTION),
  new AIMessage({
    content: '',
    tool_calls: [{ id: TOOL_USE_ID, name: BENCH_TOOL.name, args: { ...BENCH_TOOL.input } }],
  }),
  new ToolMessage({ content: BENCH_TOOL.result, tool_call_id: TOOL_USE_ID }),
];
const wireAfterTool: Message[] = [
  { role: 'user', content: [{ text: QUESTION }] },
  {
    role: 'assistant',
    content: [
      { toolUse: { toolUseId: TOOL_USE_ID, name: BENCH_TOOL.name, input: BENCH_TOOL.input } },
    ],
  },
  {
    role: 'user',
    content: [{ toolResult: { toolUseId: TOOL_USE_ID, content: [{ text: BENCH_TOOL.result }] } }],
  },
];

/** Counts the text deltas a model call streams, as the turn's own handler would see them. */
class Count extends BaseCallbackHandler {
  name = 'bench.count';
  override awaitHandlers = true;
  readonly lc_prefer_streaming = true;
  deltas = 0;
  override handleLLMNewToken(token: string): void {
    if (token) this.deltas++;
  }
}

const graph = createAgentGraph({
  models,
  toolsFor: () => tools,
  systemPrompt: config.agent.systemPrompt,
  maxSteps: 8,
  maxContextTokens: 100_000,
  toolTimeoutMs: 30_000,
});

/** Each layer runs one answer and says how many text chunks it streamed. */
const layers: [string, () => Promise<number>][] = [
  [
    'sdk',
    async () => {
      const { stream } = await clients.get(model.region).send(
        new ConverseStreamCommand({
          modelId: model.modelId,
          messages: wireAfterTool,
          // Bedrock wants the tools of a conversation that used one.
          toolConfig: {
            tools: [
              {
                toolSpec: {
                  name: BENCH_TOOL.name,
                  inputSchema: { json: { type: 'object', properties: {} } },
                },
              },
            ],
          },
        }),
      );
      let chunks = 0;
      for await (const event of stream ?? []) {
        const text = event.contentBlockDelta?.delta?.text;
        if (!text) continue;
        chunks++;
        JSON.stringify({ type: 'token', text });
      }
      return chunks;
    },
  ],
  [
    'model',
    async () => {
      const count = new Count();
      await models.invoke(model, afterTool, tools, { callbacks: [count] });
      return count.deltas;
    },
  ],
  [
    'graph',
    async () => {
      const count = new Count();
      await graph.invoke(
        { messages: [new HumanMessage(QUESTION)] },
        { configurable: { model }, callbacks: [count], recursionLimit: 20 },
      );
      return count.deltas;
    },
  ],
  [
    'turn',
    async () => {
      const turn = runTurn(
        { log, logStreamEvents: false },
        {
          agent: { id: 'bench', graph, recursionLimit: 20 },
          model,
          history: [],
          userMessage: new HumanMessage(QUESTION),
          signal: new AbortController().signal,
        },
      );
      let chunks = 0;
      for (let step = await turn.next(); !step.done; step = await turn.next()) {
        if (step.value.type !== 'token') continue;
        chunks++;
        JSON.stringify(step.value);
      }
      return chunks;
    },
  ],
];

const totals = new Map(layers.map(([name]) => [name, { cpuUs: 0, chunks: 0 }]));
for (let round = 0; round <= ROUNDS; round++) {
  for (const [name, run] of layers) {
    const before = process.cpuUsage();
    const chunks = await run().catch((error: unknown) => {
      throw new Error(`Layer ${name} failed.`, { cause: error });
    });
    const used = process.cpuUsage(before);
    if (chunks < CHUNKS) throw new Error(`${name} streamed ${chunks} of ${CHUNKS} chunks.`);
    // Round 0 warms every layer up (JIT, connections) and is not counted.
    if (round === 0) continue;
    const total = totals.get(name)!;
    total.cpuUs += used.user + used.system;
    total.chunks += chunks;
  }
}

let previous: number | undefined;
process.stdout.write(
  `CPU per 1,000 chunks, ${ROUNDS} rounds of ${CHUNKS} chunks, Node ${process.version}\n`,
);
process.stdout.write('layer   ms/1k   added\n');
for (const [name, { cpuUs, chunks }] of totals) {
  const ms = cpuUs / 1000 / (chunks / 1000);
  const added = previous === undefined ? '' : `+${(ms - previous).toFixed(1)}`;
  process.stdout.write(`${name.padEnd(6)} ${ms.toFixed(1).padStart(7)}  ${added.padStart(6)}\n`);
  previous = ms;
}
clients.destroy();
await emulator.child.stop();
process.exit(0);
