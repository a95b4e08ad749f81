import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BedrockRuntimeClient, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { AIMessage, HumanMessage } from '@langchain/core/messages';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_TOOLS } from '../../src/agent/tools/index.ts';
import { createModels } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { toProtocolError } from '../../src/providers/bedrock/errors.ts';
import { MemoryCallQuota } from '../../src/quota/memory-call-quota.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { closedPort, withHome } from '../helpers/env.ts';

const log = pino({ level: 'silent' });
const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';
let emulator: Emulator;
const opened: { clients: { destroy(): void } }[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});
afterEach(() => {
  for (const o of opened.splice(0)) o.clients.destroy();
  emulator.reset();
});

/** The real model layer, configured from an environment as the server would be. */
function modelsFor(env: Record<string, string>, deps: Parameters<typeof createModels>[2] = {}) {
  const config = loadConfig({
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_EC2_METADATA_DISABLED: 'true',
    BEDROCK_MODEL_ARNS: HAIKU,
    ...env,
  });
  const built = createModels(config, log, deps);
  opened.push(built);
  return { ...built, config };
}

const keys = { AWS_ACCESS_KEY_ID: 'AKIDENVKEYS', AWS_SECRET_ACCESS_KEY: 'env-secret' };
const ask = (text = 'hello') => [new HumanMessage(text)];
const plain = (text: string) => ({ blocks: [{ text }] });

describe('credentials', () => {
  it('signs with the environment keys even when AWS_PROFILE is set too', async () => {
    await withHome(
      { credentials: '[work]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p\n' },
      async () => {
        const { models } = modelsFor({ ...keys, AWS_PROFILE: 'work' });
        emulator.enqueue(plain('hi'));
        await models.invoke(models.default, ask(), [], {});
        expect(emulator.requests[0]?.accessKeyId).toBe('AKIDENVKEYS');
      },
    );
  });

  it("signs with the profile's keys when only AWS_PROFILE is set", async () => {
    await withHome(
      { credentials: '[work]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = p\n' },
      async () => {
        const { models } = modelsFor({ AWS_PROFILE: 'work' });
        emulator.enqueue(plain('hi'));
        await models.invoke(models.default, ask(), [], {});
        expect(emulator.requests[0]?.accessKeyId).toBe('AKIDPROFILE');
      },
    );
  });

  it('uses the default profile of the config file when nothing else is set', async () => {
    await withHome(
      { config: '[default]\naws_access_key_id = AKIDDEFAULTCFG\naws_secret_access_key = d\n' },
      async () => {
        const { models } = modelsFor({});
        emulator.enqueue(plain('hi'));
        await models.invoke(models.default, ask(), [], {});
        expect(emulator.requests[0]?.accessKeyId).toBe('AKIDDEFAULTCFG');
      },
    );
  });

  it('resolves credentials once for 20 calls (credential_process runs once)', async () => {
    const home = mkdtempSync(path.join(os.tmpdir(), 'agentgate-proc-'));
    const counter = path.join(home, 'runs');
    const script = path.join(home, 'creds.sh');
    writeFileSync(
      script,
      `#!/bin/sh\necho run >> ${counter}\necho '{"Version":1,"AccessKeyId":"AKIDPROCESS","SecretAccessKey":"s"}'\n`,
    );
    chmodSync(script, 0o755);
    await withHome({ config: `[profile proc]\ncredential_process = ${script}\n` }, async () => {
      const { models } = modelsFor({ AWS_PROFILE: 'proc' });
      for (let i = 0; i < 20; i++) {
        emulator.enqueue(plain(`answer ${i}`));
        await models.invoke(models.default, ask(), [], {});
      }
      expect(emulator.requests).toHaveLength(20);
      expect(emulator.requests.every((r) => r.accessKeyId === 'AKIDPROCESS')).toBe(true);
      expect(readFileSync(counter, 'utf8').trim().split('\n')).toHaveLength(1);
    });
  });

  it('maps no credentials at all to aws_credentials_missing with the remedies', async () => {
    await withHome({}, async () => {
      const { models } = modelsFor({});
      const error = await models.invoke(models.default, ask(), [], {}).catch((e: unknown) => e);
      const mapped = toProtocolError(error, { model: HAIKU, region: 'us-east-1' });
      expect(mapped.code).toBe('aws_credentials_missing');
      expect(mapped.hints?.join(' ')).toMatch(/aws configure/);
      expect(mapped.hints?.join(' ')).toMatch(/aws sso login/);
      expect(emulator.requests).toHaveLength(0);
    });
  });
});

describe('regions and model entries', () => {
  it("signs for the ARN's region and the default region for plain IDs", async () => {
    const arn =
      'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
    const { models } = modelsFor({
      ...keys,
      AWS_DEFAULT_REGION: 'us-west-2',
      BEDROCK_MODEL_ARNS: `${HAIKU},${arn}`,
    });
    emulator.enqueue(plain('a'), plain('b'));
    await models.invoke(models.find(HAIKU)!, ask(), [], {});
    await models.invoke(models.find(arn)!, ask(), [], {});
    expect(emulator.requests.map((r) => r.region)).toEqual(['us-west-2', 'eu-west-1']);
    expect(emulator.requests[1]?.modelId).toBe(arn);
  });
});

describe('connections', () => {
  it('keeps one client per region, shared by the models of that region', async () => {
    const arn =
      'arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0';
    const { clients } = modelsFor({ ...keys, BEDROCK_MODEL_ARNS: `${HAIKU},us.${HAIKU},${arn}` });
    expect(clients.get('us-east-1')).toBe(clients.get('us-east-1'));
    expect(clients.get('eu-west-1')).not.toBe(clients.get('us-east-1'));
  });

  it('opens at most 2 connections for 20 sequential streamed calls', async () => {
    const { models } = modelsFor(keys);
    const before = emulator.connections;
    for (let i = 0; i < 20; i++) {
      emulator.enqueue({ blocks: [{ text: `streamed answer number ${i}` }], chunkChars: 3 });
      const reply = await models.invoke(models.default, ask(), [], {});
      expect(reply.content).toBe(`streamed answer number ${i}`);
    }
    expect(emulator.requests.filter((r) => r.operation === 'converse-stream')).toHaveLength(20);
    expect(emulator.connections - before).toBeLessThanOrEqual(2);
  });

  it("shows why: the SDK's default handler opens a connection per ConverseStream call", async () => {
    const client = new BedrockRuntimeClient({
      endpoint: emulator.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDDEFAULT', secretAccessKey: 's' },
    });
    const before = emulator.connections;
    for (let i = 0; i < 5; i++) {
      emulator.enqueue(plain('x'));
      const response = await client.send(
        new ConverseStreamCommand({
          modelId: HAIKU,
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      );
      for await (const _ of response.stream ?? []) {
        // drain
      }
    }
    client.destroy();
    expect(emulator.connections - before).toBe(5);
  });

  it('closes the stream of an aborted call at once', async () => {
    const { models } = modelsFor(keys);
    emulator.enqueue({ blocks: [{ text: 'this never finishes' }], hangAfterEvents: 2 });
    const controller = new AbortController();
    const call = models.invoke(models.default, ask(), [], { signal: controller.signal });
    await emulator.waitForRequests(1);
    const started = Date.now();
    controller.abort();
    await expect(call).rejects.toThrow();
    const aborted = await emulator.waitForAbort(2_000);
    expect(aborted.operation).toBe('converse-stream');
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});

describe('streaming', () => {
  it('calls models listed in BEDROCK_NON_STREAMING_MODELS with Converse', async () => {
    const { models } = modelsFor({ ...keys, BEDROCK_NON_STREAMING_MODELS: HAIKU });
    emulator.enqueue(plain('whole answer'));
    const reply = await models.invoke(models.default, ask(), BUILTIN_TOOLS, {});
    expect(reply.content).toBe('whole answer');
    expect(emulator.requests.map((r) => r.operation)).toEqual(['converse']);
  });

  it('retries a refused streaming tool call with Converse once and remembers the model', async () => {
    const { models } = modelsFor(keys);
    emulator.refuseStreamingToolUse(HAIKU);
    emulator.enqueue(plain('first'), plain('second'));
    expect((await models.invoke(models.default, ask(), BUILTIN_TOOLS, {})).content).toBe('first');
    expect((await models.invoke(models.default, ask(), BUILTIN_TOOLS, {})).content).toBe('second');
    expect(emulator.requests.map((r) => r.operation)).toEqual([
      'converse-stream',
      'converse',
      'converse',
    ]);
    expect(models.isStreaming(models.default)).toBe(false);
  });
});

describe('error mapping', () => {
  async function failure(env: Record<string, string>, ...replies: Parameters<Emulator['enqueue']>) {
    const { models } = modelsFor({ ...keys, ...env });
    emulator.enqueue(...replies);
    const error = await models.invoke(models.default, ask(), [], {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    return toProtocolError(error, { model: HAIKU, region: 'us-east-1' });
  }

  it('maps AccessDeniedException to aws_access_denied with the remedies', async () => {
    const mapped = await failure(
      {},
      { error: 'AccessDeniedException', message: "You don't have access to the model" },
    );
    expect(mapped.code).toBe('aws_access_denied');
    expect(mapped.retryable).toBe(false);
    expect(mapped.message).toContain(HAIKU);
    expect(mapped.hints?.join(' ')).toMatch(/Model access/);
  });

  it('retries throttling BEDROCK_MAX_ATTEMPTS times, then maps it to bedrock_throttled', async () => {
    const mapped = await failure(
      { BEDROCK_MAX_ATTEMPTS: '3' },
      { error: 'ThrottlingException' },
      { error: 'ThrottlingException' },
      { error: 'ThrottlingException' },
    );
    expect(mapped.code).toBe('bedrock_throttled');
    expect(mapped.retryable).toBe(true);
    expect(emulator.requests).toHaveLength(3);
  });

  it('recovers when throttling stops before the attempts run out', async () => {
    const { models } = modelsFor({ ...keys, BEDROCK_MAX_ATTEMPTS: '3' });
    emulator.enqueue({ error: 'ThrottlingException' }, plain('made it'));
    const reply = await models.invoke(models.default, ask(), [], {});
    expect(reply.content).toBe('made it');
    expect(emulator.requests).toHaveLength(2);
  });

  it('maps a validation error to model_error, not retryable', async () => {
    const mapped = await failure({}, { error: 'ValidationException', message: 'bad input' });
    expect(mapped.code).toBe('model_error');
    expect(mapped.retryable).toBe(false);
  });

  it('maps a 5xx to model_error, retryable', async () => {
    const mapped = await failure(
      { BEDROCK_MAX_ATTEMPTS: '1' },
      { error: 'ServiceUnavailableException' },
    );
    expect(mapped.code).toBe('model_error');
    expect(mapped.retryable).toBe(true);
  });

  it('maps a mid-stream exception to model_error', async () => {
    const mapped = await failure(
      {},
      {
        blocks: [{ text: 'partial answer here' }],
        failAfterEvents: { events: 3, exception: 'modelStreamErrorException' },
      },
    );
    expect(mapped.code).toBe('model_error');
  });

  it('maps a closed port to bedrock_unreachable with the region remedies', async () => {
    const port = await closedPort();
    const mapped = await failure({
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: `http://127.0.0.1:${port}`,
      BEDROCK_MAX_ATTEMPTS: '1',
    });
    expect(mapped.code).toBe('bedrock_unreachable');
    expect(mapped.retryable).toBe(true);
    expect(mapped.hints?.join(' ')).toMatch(/AWS_DEFAULT_REGION/);
  });

  it('maps an unresolvable host to bedrock_unreachable', async () => {
    const mapped = await failure({
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://bedrock.invalid:4010',
      BEDROCK_MAX_ATTEMPTS: '1',
    });
    expect(mapped.code).toBe('bedrock_unreachable');
  });

  it('maps a connection or socket timeout to bedrock_unreachable', () => {
    const where = { model: HAIKU, region: 'us-east-1' };
    const timeout = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    const cause = Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' });
    expect(toProtocolError(timeout, where).code).toBe('bedrock_unreachable');
    expect(toProtocolError(new Error('wrapped', { cause }), where).code).toBe(
      'bedrock_unreachable',
    );
  });
});

describe("a user graph's model (chatModel)", () => {
  it('takes a slot of BEDROCK_MAX_CONCURRENCY and gets cache points also when it streams chat model events', async () => {
    const { models } = modelsFor(keys, { quota: new MemoryCallQuota({ max: 1 }) });
    const slow = { blocks: [{ text: 'Slowly, in small pieces.' }], delayMs: 20, chunkChars: 2 };
    emulator.enqueue(slow, slow);
    const model = models.chatModel(models.default);
    // Without a version, streamEvents streams chat model events: ChatBedrockConverse's own
    // call path, which must go through the gate like every other.
    const read = async () => {
      let text = '';
      for await (const event of model.streamEvents(ask())) {
        if (event.event === 'content-block-delta' && event.delta.type === 'text-delta') {
          text += event.delta.text;
        }
      }
      return text;
    };
    expect(await Promise.all([read(), read()])).toEqual([
      'Slowly, in small pieces.',
      'Slowly, in small pieces.',
    ]);
    expect(emulator.peakInFlight(HAIKU)).toBe(1);
    const last = emulator.requests[0]?.body?.messages?.at(-1)?.content?.at(-1);
    expect(last).toEqual({ cachePoint: { type: 'default' } });
  });

  it('keeps reasoning and text apart when a thinking model streams chat model events', async () => {
    const sonnet = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
    const { models } = modelsFor({
      ...keys,
      BEDROCK_MODEL_ARNS: sonnet,
      BEDROCK_REASONING_BUDGET_TOKENS: '1024',
    });
    emulator.enqueue({
      blocks: [{ reasoning: 'Think first.' }, { text: 'Then answer.' }],
      stopReason: 'max_tokens',
    });
    const deltas: Record<string, string> = {};
    let finished: unknown;
    for await (const event of models.chatModel(models.default).streamEvents(ask())) {
      if (event.event === 'content-block-delta') {
        const delta = event.delta as { type: string; text?: string; reasoning?: string };
        deltas[delta.type] = (deltas[delta.type] ?? '') + (delta.text ?? delta.reasoning ?? '');
      }
      if (event.event === 'message-finish') finished = event;
    }
    expect(deltas['text-delta']).toBe('Then answer.');
    expect(deltas['reasoning-delta']).toBe('Think first.');
    // Bedrock's max_tokens, as LangChain's chat model events name it.
    expect(finished).toMatchObject({ reason: 'length' });
    expect(emulator.requests[0]?.body?.additionalModelRequestFields).toEqual({
      thinking: { type: 'enabled', budget_tokens: 1024 },
    });
  });

  it('is sent no reasoning blocks when it has no extended thinking', async () => {
    const { models } = modelsFor(keys);
    emulator.enqueue(plain('Fine.'));
    const history = [
      new HumanMessage('hi'),
      new AIMessage({
        content: [
          { type: 'reasoning_content', reasoningText: { text: 'Greet back.', signature: 'c2ln' } },
          { type: 'text', text: 'Hello!' },
        ],
      }),
      new HumanMessage('how are you?'),
    ];
    await models.invoke(models.default, history, [], {});
    const assistant = emulator.requests[0]?.body?.messages?.[1]?.content;
    expect(assistant).toEqual([{ text: 'Hello!' }]);
  });
});
