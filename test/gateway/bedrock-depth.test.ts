/**
 * Bedrock in depth through the whole gateway, against the emulator with the real SDK: prompt
 * caching, usage and cost, guardrails, extended thinking and the concurrency bound.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConverseRequestBody, Reply } from '../emulator/index.ts';
import { captureLogs } from '../helpers/env.ts';
import { withGateway } from '../helpers/gateway.ts';
import { checkStored } from '../helpers/invariants.ts';
import type { Frame } from '../helpers/ws-client.ts';

const SONNET_37 = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
/** The demo's analyst has a long system prompt and the SQL skill, on Sonnet 3.7. */
const ANALYST = {
  BEDROCK_MODEL_ARNS: `${SONNET_37},${HAIKU}`,
  AGENTS_FILE: 'examples/analyst.yaml',
};

const turnEnd = (frames: Frame[]) => frames.find((f) => f.type === 'turn-end') as Frame;
const usageOf = (frames: Frame[]) => turnEnd(frames).usage as Record<string, number>;
const toolUse = (name: string, input: Record<string, unknown>) => ({ toolUse: { name, input } });

/** Where a request carries cache points: after the tools, in the system prompt, in messages. */
function cachePoints(body: ConverseRequestBody | undefined) {
  const isPoint = (block: unknown) =>
    typeof block === 'object' && block !== null && 'cachePoint' in block;
  const tools = (body?.toolConfig?.tools ?? []) as unknown[];
  const messages = body?.messages ?? [];
  return {
    tools: tools.findIndex(isPoint) === tools.length - 1 && tools.length > 0,
    system:
      ((body?.system ?? []) as unknown[]).at(-1) !== undefined && isPoint(body?.system?.at(-1)),
    lastMessage: isPoint(messages.at(-1)?.content?.at(-1)),
    total:
      tools.filter(isPoint).length +
      ((body?.system ?? []) as unknown[]).filter(isPoint).length +
      messages.flatMap((m) => m.content ?? []).filter(isPoint).length,
  };
}

describe('prompt caching', () => {
  it('caches the prompt of a long-prompted agent with skills: reads from its second call, same tokens as without', async () => {
    const question = 'which product sold best last month?';
    const runs: Record<string, { usage: Record<string, number>[]; bodies: ConverseRequestBody[] }> =
      {};
    for (const cache of ['auto', 'off']) {
      await withGateway({ ...ANALYST, BEDROCK_PROMPT_CACHE: cache }, async (gw) => {
        const client = await gw.connect();
        const first = await client.chat(question, { agent: 'analyst' });
        await checkStored(client, first);
        const conversationId = turnEnd(first).conversationId;
        const second = await client.chat('and the month before?', {
          agent: 'analyst',
          conversationId,
        });
        expect(turnEnd(first).stopReason).toBe('end_turn');
        expect(turnEnd(second).stopReason).toBe('end_turn');
        runs[cache] = {
          usage: [usageOf(first), usageOf(second)],
          bodies: gw.emulator.requests.map((r) => r.body as ConverseRequestBody),
        };
      });
    }
    const on = runs.auto!;
    const off = runs.off!;
    // The SQL skill's flow: several model calls a turn, each with all three cache points.
    expect(on.bodies.length).toBeGreaterThanOrEqual(4);
    for (const body of on.bodies) {
      expect(cachePoints(body)).toEqual({ tools: true, system: true, lastMessage: true, total: 3 });
    }
    for (const body of off.bodies) expect(cachePoints(body).total).toBe(0);
    // Reads from the second call of the first turn on; writes as the conversation grows.
    const [first, second] = on.usage as [Record<string, number>, Record<string, number>];
    expect(first.cacheReadInputTokens).toBeGreaterThan(0);
    expect(first.cacheWriteInputTokens).toBeGreaterThan(0);
    expect(second.cacheReadInputTokens).toBeGreaterThan(first.cacheReadInputTokens!);
    // The same prompts, split three ways instead of one, summed over the calls of each turn.
    off.usage.forEach((without, i) => {
      const withCache = on.usage[i]!;
      expect(without.cacheReadInputTokens! + without.cacheWriteInputTokens!).toBe(0);
      expect(
        withCache.inputTokens! + withCache.cacheReadInputTokens! + withCache.cacheWriteInputTokens!,
      ).toBe(without.inputTokens);
      expect(withCache.outputTokens).toBe(without.outputTokens);
      expect(withCache.totalTokens).toBe(without.totalTokens);
      // Sonnet 3.7's list prices: $3 in, $15 out, $0.30 cache read, $3.75 cache write.
      expect(withCache.costUsd).toBeCloseTo(
        (withCache.inputTokens! * 3 +
          withCache.outputTokens! * 15 +
          withCache.cacheReadInputTokens! * 0.3 +
          withCache.cacheWriteInputTokens! * 3.75) /
          1e6,
        10,
      );
    });
    console.log(
      `prompt caching, analyst agent, 2 turns: with cache ${JSON.stringify(on.usage)}; without ${JSON.stringify(off.usage)}`,
    );
    expect(on.usage[1]!.costUsd!).toBeLessThan(off.usage[1]!.costUsd!);
  });

  it('puts no cache point for a model without prompt caching, and none on Nova tools', async () => {
    const nova = 'amazon.nova-pro-v1:0';
    await withGateway(
      { BEDROCK_MODEL_ARNS: `anthropic.claude-3-5-sonnet-20241022-v2:0,${nova}` },
      async (gw) => {
        const client = await gw.connect();
        gw.emulator.enqueue({ blocks: [{ text: 'Hi.' }] }, { blocks: [{ text: 'Hello.' }] });
        await client.chat('hi');
        await client.chat('hello', { model: nova });
        const [sonnet, novaBody] = gw.emulator.requests.map((r) => r.body);
        expect(cachePoints(sonnet).total).toBe(0);
        expect(cachePoints(novaBody)).toEqual({
          tools: false,
          system: true,
          lastMessage: true,
          total: 2,
        });
      },
    );
  });
});

describe('usage and cost', () => {
  const pricesFile = (prices: object) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'prices-')), 'prices.json');
    writeFileSync(file, JSON.stringify(prices));
    return file;
  };

  it('prices a turn from MODEL_PRICES_FILE and counts tokens and cost by model and user', async () => {
    const file = pricesFile({
      [HAIKU]: { input: 1, output: 10, cacheRead: 0.1, cacheWrite: 1.25 },
    });
    await withGateway(
      { BEDROCK_MODEL_ARNS: HAIKU, MODEL_PRICES_FILE: file, AUTH_API_KEYS: 'k1:alice' },
      async (gw) => {
        const client = await gw.connect('?token=k1');
        gw.emulator.enqueue(
          {
            blocks: [toolUse('calculator', { expression: '6*7' })],
            usage: { inputTokens: 100, outputTokens: 10 },
          },
          { blocks: [{ text: '42.' }], usage: { inputTokens: 200, outputTokens: 20 } },
        );
        const frames = await client.chat('6*7?');
        expect(usageOf(frames)).toEqual({
          inputTokens: 300,
          outputTokens: 30,
          totalTokens: 330,
          cacheReadInputTokens: 0,
          cacheWriteInputTokens: 0,
          costUsd: (300 * 1 + 30 * 10) / 1e6,
        });
        const metrics = await (
          await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer k1' } })
        ).text();
        expect(metrics).toContain(
          `agentgate_model_tokens_total{model="${HAIKU}",user="alice",kind="input"} 300`,
        );
        expect(metrics).toContain(
          `agentgate_model_tokens_total{model="${HAIKU}",user="alice",kind="output"} 30`,
        );
        expect(metrics).toContain(
          `agentgate_model_cost_usd_total{model="${HAIKU}",user="alice"} 0.0006`,
        );
        // History keeps the priced usage with the answer.
        client.send({ type: 'history', conversationId: turnEnd(frames).conversationId });
        const history = await client.next((f) => f.type === 'history');
        const messages = history.messages as { role: string; usage?: unknown }[];
        expect(messages.at(-1)?.usage).toEqual(usageOf(frames));
      },
    );
  });

  it('leaves costUsd out when the model has no known price', async () => {
    const profile = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123';
    await withGateway({ BEDROCK_MODEL_ARNS: profile }, async (gw) => {
      const client = await gw.connect();
      gw.emulator.enqueue({ blocks: [{ text: 'Hi.' }] });
      const usage = usageOf(await client.chat('hi'));
      expect(usage.totalTokens).toBeGreaterThan(0);
      expect(usage).not.toHaveProperty('costUsd');
    });
  });

  it('stops start-up on a bad prices file, naming it', async () => {
    const file = pricesFile({ [HAIKU]: { input: 'cheap' } });
    await expect(withGateway({ MODEL_PRICES_FILE: file }, async () => {})).rejects.toThrow(
      /MODEL_PRICES_FILE .*prices\.json at .*input: .*expected number/,
    );
  });
});

describe('guardrails', () => {
  const guardrail = { BEDROCK_GUARDRAIL_ID: 'gr0demo1', BEDROCK_GUARDRAIL_VERSION: '2' };

  it('applies the guardrail to every call; an intervention ends the turn as content_filtered, its trace only logged', async () => {
    const logs = captureLogs();
    await withGateway(
      { ...guardrail, LOG_LEVEL: 'info' },
      async (gw) => {
        const client = await gw.connect();
        gw.emulator.enqueue({
          blocks: [{ text: 'Here is how to pick a lock: first you take a tension wrench' }],
          guardrail: { afterEvents: 4, policy: { topic: 'Lock picking' } },
        });
        const frames = await client.chat('how do I pick a lock?');
        await checkStored(client, frames);
        const end = turnEnd(frames);
        expect(end.stopReason).toBe('content_filtered');
        expect(end.text).toContain('Sorry, the model cannot answer this question.');
        expect(JSON.stringify(frames)).not.toContain('Lock picking');
        const [request] = gw.emulator.requests;
        expect(request?.body?.guardrailConfig).toEqual({
          guardrailIdentifier: 'gr0demo1',
          guardrailVersion: '2',
          trace: 'enabled',
          streamProcessingMode: 'async',
        });
      },
      { logTo: logs.sink },
    );
    // At info: which policy acted, not the text it withheld.
    const trace = logs.lines.find((line) => line.includes('"guardrail trace"'));
    expect(JSON.parse(trace ?? '{}').findings).toEqual([
      { policy: 'topicPolicy', item: 'Lock picking', action: 'BLOCKED' },
    ]);
    expect(logs.lines.join('')).not.toContain('tension wrench');
  });

  it('assesses only the newest question, so a blocked prompt does not block the turns after it', async () => {
    await withGateway(guardrail, async (gw) => {
      const client = await gw.connect();
      // The demo model's guardrail blocks "forbidden" wherever it assesses it.
      const blocked = turnEnd(await client.chat('tell me something forbidden'));
      expect(blocked.stopReason).toBe('content_filtered');
      const next = await client.chat('what is 6*7?', { conversationId: blocked.conversationId });
      expect(turnEnd(next).stopReason).toBe('end_turn');
      expect(turnEnd(next).text).toContain('42');
      const messages = gw.emulator.requests.at(-1)?.body?.messages ?? [];
      expect(messages[0]?.content).toEqual([{ text: 'tell me something forbidden' }]);
      const question = messages.findLast((m) => m.content?.some((b) => b.guardContent));
      expect(question?.content?.[0]).toEqual({ guardContent: { text: { text: 'what is 6*7?' } } });
    });
  });

  it('keeps reading the prompt cache turn after turn, one question behind', async () => {
    await withGateway({ ...ANALYST, ...guardrail }, async (gw) => {
      const client = await gw.connect();
      const reads: number[] = [];
      for (const question of ['hello', 'how are you?', 'tell me more', 'thanks']) {
        reads.push(usageOf(await client.chat(question)).cacheReadInputTokens!);
      }
      // Each turn reads what the turn before it wrote, up to that turn's question.
      for (let i = 2; i < reads.length; i++) expect(reads[i]).toBeGreaterThan(reads[i - 1]!);
      const last = gw.emulator.requests.at(-1)?.body;
      expect(cachePoints(last).total).toBe(4);
      const messages = last?.messages ?? [];
      expect(messages.at(-2)?.content?.at(-1)).toEqual({ cachePoint: { type: 'default' } });
    });
  });

  it('checks Converse calls too (no stream processing mode), with the same stop reason', async () => {
    const logs = captureLogs();
    await withGateway(
      {
        ...guardrail,
        BEDROCK_NON_STREAMING_MODELS: 'anthropic.claude-3-5-sonnet-20241022-v2:0',
        LOG_LEVEL: 'info',
      },
      async (gw) => {
        const client = await gw.connect();
        const end = turnEnd(await client.chat('tell me something forbidden'));
        expect(end.stopReason).toBe('content_filtered');
        expect(end.text).toBe('Sorry, the model cannot answer this question.');
        const [request] = gw.emulator.requests;
        expect(request?.operation).toBe('converse');
        expect(request?.body?.guardrailConfig).toEqual({
          guardrailIdentifier: 'gr0demo1',
          guardrailVersion: '2',
          trace: 'enabled',
        });
      },
      { logTo: logs.sink },
    );
    const trace = logs.lines.find((line) => line.includes('"guardrail trace"'));
    expect(JSON.parse(trace ?? '{}').findings).toEqual([
      { policy: 'wordPolicy', action: 'BLOCKED' },
    ]);
  });
});

describe('extended thinking', () => {
  const thinking = {
    BEDROCK_MODEL_ARNS: `${SONNET_37},${HAIKU}`,
    BEDROCK_REASONING_BUDGET_TOKENS: '2048',
  };

  it('streams reasoning and sends its blocks back with their signatures, across tool calls and turns', async () => {
    await withGateway(thinking, async (gw) => {
      const client = await gw.connect();
      const replies: Reply[] = [
        {
          blocks: [
            { reasoning: 'I should compute 6*7.' },
            toolUse('calculator', { expression: '6*7' }),
          ],
        },
        { blocks: [{ reasoning: 'The tool said 42.' }, { text: 'It is 42.' }] },
        { blocks: [{ reasoning: 'Now 7*8.' }, toolUse('calculator', { expression: '7*8' })] },
        { blocks: [{ redactedReasoning: new Uint8Array([1, 2, 3, 4]) }, { text: 'It is 56.' }] },
      ];
      gw.emulator.enqueue(replies[0]!, replies[1]!);
      const first = await client.chat('what is 6*7?');
      expect(
        first
          .filter((f) => f.type === 'reasoning')
          .map((f) => f.text)
          .join(''),
      ).toBe('I should compute 6*7.The tool said 42.');
      gw.emulator.enqueue(replies[2]!, replies[3]!);
      const second = await client.chat('and 7*8?', {
        conversationId: turnEnd(first).conversationId,
      });
      expect(turnEnd(second).stopReason).toBe('end_turn');
      expect(turnEnd(second).text).toBe('It is 56.');
      const bodies = gw.emulator.requests.map((r) => r.body as ConverseRequestBody);
      expect(bodies.map((b) => b.additionalModelRequestFields)).toEqual(
        Array(4).fill({ thinking: { type: 'enabled', budget_tokens: 2048 } }),
      );
      expect(
        bodies.every(
          (b) => (b.inferenceConfig as { maxTokens?: number }).maxTokens === 2048 + 4096,
        ),
      ).toBe(true);
      // The last call holds every reasoning block so far, signed, as the model sent them.
      const sent = (bodies[3]?.messages ?? [])
        .filter((m) => m.role === 'assistant')
        .map((m) => m.content?.[0]?.reasoningContent as { reasoningText?: { signature?: string } });
      expect(sent).toHaveLength(3);
      for (const block of sent) expect(block.reasoningText?.signature).toMatch(/\S{16,}/);
      // Redacted reasoning goes back byte for byte.
      gw.emulator.enqueue({ blocks: [{ reasoning: 'Done.' }, { text: 'Anything else?' }] });
      await client.chat('thanks', { conversationId: turnEnd(first).conversationId });
      const redacted = (gw.emulator.requests.at(-1)?.body?.messages ?? [])
        .flatMap((m) => m.content ?? [])
        .map(
          (block) =>
            (block.reasoningContent as { redactedContent?: string } | undefined)?.redactedContent,
        )
        .filter(Boolean);
      expect(redacted).toEqual([Buffer.from([1, 2, 3, 4]).toString('base64')]);
      // Haiku has no extended thinking: called without it.
      gw.emulator.enqueue({ blocks: [{ text: 'Hi.' }] });
      await client.chat('hi', { model: HAIKU });
      expect(gw.emulator.requests.at(-1)?.body?.additionalModelRequestFields).toBeUndefined();
    });
  });
});

describe('concurrency bound', () => {
  const slowReply = (i: number): Reply => ({
    blocks: [{ text: `Answer ${i}.` }],
    delayMs: 15,
    chunkChars: 2,
  });

  async function burst(env: Record<string, string>, turns: number, quota: number) {
    return withGateway(
      { BEDROCK_MODEL_ARNS: HAIKU, MAX_TURNS_PER_USER: '100', ...env },
      async (gw) => {
        gw.emulator.setConcurrencyQuota(HAIKU, quota);
        gw.emulator.enqueue(...Array.from({ length: turns }, (_, i) => slowReply(i)));
        const clients = await Promise.all(Array.from({ length: turns }, () => gw.connect()));
        const ends = (
          await Promise.all(clients.map((c, i) => c.chat(`question ${i}`, {}, 30_000)))
        ).map(turnEnd);
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        return { ends, peak: gw.emulator.peakInFlight(HAIKU), metrics };
      },
    );
  }

  it('without a bound, Bedrock throttles a burst past its quota', async () => {
    const { ends, peak } = await burst({}, 12, 4);
    expect(peak).toBe(4);
    expect(ends.filter((e) => e.stopReason === 'error').length).toBeGreaterThan(0);
  });

  it('with BEDROCK_MAX_CONCURRENCY the burst waits its turn: never more than the bound in flight, none throttled', async () => {
    const { ends, peak, metrics } = await burst({ BEDROCK_MAX_CONCURRENCY: '4' }, 12, 4);
    expect(ends.map((e) => e.stopReason)).toEqual(Array(12).fill('end_turn'));
    expect(peak).toBe(4);
    expect(metrics).toMatch(
      new RegExp(
        `agentgate_bedrock_quota_wait_seconds_count\\{model="${HAIKU.replaceAll('.', '\\.')}"\\} 12`,
      ),
    );
  });

  it('halves the bound once when Bedrock throttles a burst all the same, and holds it', async () => {
    await withGateway(
      { BEDROCK_MODEL_ARNS: HAIKU, MAX_TURNS_PER_USER: '100', BEDROCK_MAX_CONCURRENCY: '4' },
      async (gw) => {
        gw.emulator.setConcurrencyQuota(HAIKU, 2);
        const clients = await Promise.all(Array.from({ length: 8 }, () => gw.connect()));
        const round = async () => {
          gw.emulator.enqueue(...Array.from({ length: 8 }, (_, i) => slowReply(i)));
          const frames = await Promise.all(
            clients.map((c, i) => c.chat(`question ${i}`, {}, 30_000)),
          );
          return frames.map(turnEnd).filter((e) => e.stopReason === 'error').length;
        };
        // Four calls go out under the bound of 4; Bedrock's quota of 2 throttles two of them
        // (BEDROCK_MAX_ATTEMPTS=1 here), and the bound drops to 2, once for the burst.
        expect(await round()).toBe(2);
        const metrics = await (await fetch(`${gw.url}/metrics`)).text();
        expect(metrics).toContain(`agentgate_bedrock_quota_throttled_total{model="${HAIKU}"} 2`);
        // The next burst runs under the lowered bound: nothing is throttled.
        gw.emulator.reset();
        gw.emulator.setConcurrencyQuota(HAIKU, 2);
        expect(await round()).toBe(0);
        expect(gw.emulator.peakInFlight(HAIKU)).toBe(2);
      },
    );
  });
});
