/**
 * `npm run bench:bedrock-depth`: what Bedrock in depth costs or saves, measured through the
 * whole gateway against the emulator (its token counts, Bedrock's list prices). Fixed inputs:
 *
 * - prompt caching: the analyst agent of examples/analyst.yaml (a long system prompt, the SQL
 *   skill, Claude 3.7 Sonnet) answers the same three questions with BEDROCK_PROMPT_CACHE
 *   auto and off; tokens and cost per turn;
 * - extended thinking: one calculator question with and without a 2,048-token budget;
 * - the concurrency bound: a burst of 40 turns at a model whose Bedrock quota is 4 calls at
 *   once, without a bound and with BEDROCK_MAX_CONCURRENCY=4; turns throttled and the wait.
 *
 * `--json` prints the figures as JSON instead of tables.
 */
import WebSocket from 'ws';
import { buildApp } from '../src/app.ts';
import { type Client, connect, type TurnEndFrame, type Usage } from '../src/client/index.ts';
import { loadConfig } from '../src/config/config.ts';
import { createLogger } from '../src/logger.ts';
import { type Emulator, startEmulator } from '../test/emulator/index.ts';

const SONNET_37 = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
const ANALYST_QUESTIONS = [
  'which product sold best last month?',
  'and the month before?',
  'thanks, that helps',
];
const BURST_TURNS = 40;
const BEDROCK_QUOTA = 4;

/** One gateway (embedded worker) on the emulator, with `env` over the test defaults. */
async function withGateway<T>(
  env: Record<string, string>,
  emulator: Emulator,
  run: (client: () => Promise<Client>, metrics: () => Promise<string>) => Promise<T>,
): Promise<T> {
  const config = loadConfig({
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'AKIDBENCH',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_EC2_METADATA_DISABLED: 'true',
    LOG_LEVEL: 'silent',
    PORT: '0',
    MAX_TURNS_PER_USER: '500',
    MAX_SOCKETS_PER_USER: '500',
    ...env,
  });
  const app = await buildApp(config, createLogger(config));
  const clients: Client[] = [];
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as { port: number };
    const open = async () => {
      const client = await connect({
        url: `ws://127.0.0.1:${port}/v1/ws`,
        WebSocket,
        reconnect: false,
      });
      clients.push(client);
      return client;
    };
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return await run(open, metrics);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await app.close();
  }
}

interface TurnFigures {
  readonly stopReason: string;
  readonly usage: Usage;
}

async function conversation(
  client: Client,
  questions: readonly string[],
  options: { agent?: string; model?: string },
): Promise<TurnFigures[]> {
  // Every chat goes to the client's own conversation.
  const turns: TurnFigures[] = [];
  for (const question of questions) {
    const end: TurnEndFrame = await client.chat(question, options).end;
    turns.push({ stopReason: end.stopReason, usage: end.usage });
  }
  return turns;
}

async function caching(emulator: Emulator) {
  const runs: Record<string, TurnFigures[]> = {};
  for (const cache of ['auto', 'off']) {
    emulator.reset();
    runs[cache] = await withGateway(
      {
        BEDROCK_MODEL_ARNS: SONNET_37,
        AGENTS_FILE: 'examples/analyst.yaml',
        BEDROCK_PROMPT_CACHE: cache,
      },
      emulator,
      async (open) => conversation(await open(), ANALYST_QUESTIONS, { agent: 'analyst' }),
    );
  }
  return { on: runs.auto!, off: runs.off! };
}

async function thinking(emulator: Emulator) {
  const runs: Record<string, TurnFigures[]> = {};
  for (const budget of ['2048', '']) {
    emulator.reset();
    runs[budget || 'off'] = await withGateway(
      {
        BEDROCK_MODEL_ARNS: SONNET_37,
        BEDROCK_REASONING_BUDGET_TOKENS: budget,
        BEDROCK_PROMPT_CACHE: 'off',
      },
      emulator,
      async (open) => conversation(await open(), ['what is 1234 * 5678?'], {}),
    );
  }
  return { on: runs['2048']!, off: runs.off! };
}

async function burst(emulator: Emulator, bound: string) {
  emulator.reset();
  emulator.setConcurrencyQuota(HAIKU, BEDROCK_QUOTA);
  emulator.enqueue(
    ...Array.from({ length: BURST_TURNS }, (_, i) => ({
      blocks: [{ text: `Answer number ${i}, streamed in small pieces.` }],
      delayMs: 5,
      chunkChars: 4,
    })),
  );
  return withGateway(
    { BEDROCK_MODEL_ARNS: HAIKU, BEDROCK_MAX_CONCURRENCY: bound, BEDROCK_PROMPT_CACHE: 'off' },
    emulator,
    async (open, metrics) => {
      const clients = await Promise.all(Array.from({ length: BURST_TURNS }, () => open()));
      const started = performance.now();
      const ends = await Promise.all(clients.map((c, i) => c.chat(`question ${i}`).end));
      const seconds = (performance.now() - started) / 1000;
      const text = await metrics();
      const sum = Number(
        /agentgate_bedrock_quota_wait_seconds_sum\{[^}]*\} ([\d.e-]+)/.exec(text)?.[1] ?? 0,
      );
      return {
        bound: bound || 'none',
        completed: ends.filter((e) => e.stopReason === 'end_turn').length,
        throttled: ends.filter((e) => e.stopReason === 'error').length,
        peakInFlight: emulator.peakInFlight(HAIKU),
        meanWaitMs: Math.round((sum / BURST_TURNS) * 1000),
        burstSeconds: Number(seconds.toFixed(2)),
      };
    },
  );
}

const total = (turns: readonly TurnFigures[], field: keyof Usage) =>
  turns.reduce((sum, t) => sum + (t.usage[field] ?? 0), 0);
const usd = (value: number) => `$${value.toFixed(6)}`;

function usageRow(label: string, usage: Usage): string {
  return `| ${label} | ${usage.inputTokens} | ${usage.cacheReadInputTokens} | ${usage.cacheWriteInputTokens} | ${usage.outputTokens} | ${usd(usage.costUsd ?? Number.NaN)} |`;
}

const emulator = await startEmulator({ paceMs: 0 });
try {
  const cache = await caching(emulator);
  const think = await thinking(emulator);
  const bursts = [await burst(emulator, ''), await burst(emulator, String(BEDROCK_QUOTA))];
  const figures = { caching: cache, thinking: think, bursts };
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } else {
    const header =
      '| turn | input | cache read | cache write | output | cost |\n|---|---|---|---|---|---|';
    const lines = [
      'Prompt caching: the analyst agent (Claude 3.7 Sonnet), three turns',
      '',
      header,
    ];
    cache.on.forEach((turn, i) => {
      lines.push(usageRow(`${i + 1}, cache on`, turn.usage));
      lines.push(usageRow(`${i + 1}, cache off`, cache.off[i]!.usage));
    });
    const on = total(cache.on, 'costUsd');
    const off = total(cache.off, 'costUsd');
    lines.push(
      '',
      `Conversation: ${usd(on)} with the cache, ${usd(off)} without (${((1 - on / off) * 100).toFixed(1)}% saved).`,
    );
    lines.push('', 'Extended thinking (budget 2,048), one calculator question', '', header);
    lines.push(
      usageRow('thinking on', think.on[0]!.usage),
      usageRow('thinking off', think.off[0]!.usage),
    );
    lines.push(
      '',
      `Concurrency: ${BURST_TURNS} turns at once, Bedrock quota ${BEDROCK_QUOTA} calls`,
      '',
      '| BEDROCK_MAX_CONCURRENCY | completed | throttled | peak in flight | mean wait | burst |',
      '|---|---|---|---|---|---|',
      ...bursts.map(
        (b) =>
          `| ${b.bound} | ${b.completed} | ${b.throttled} | ${b.peakInFlight} | ${b.meanWaitMs} ms | ${b.burstSeconds} s |`,
      ),
    );
    process.stdout.write(`${lines.join('\n')}\n`);
  }
} finally {
  await emulator.close();
}
