import { AsyncLocalStorage } from 'node:async_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BedrockClients } from '../../src/providers/bedrock/clients.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

describe('BedrockClients', () => {
  // LangChain runs each turn in an AsyncLocalStorage context that holds the whole agent
  // state. What the SDK creates lazily on a client's first call (config file reads, the
  // connection agent, retry state) lives as long as the client; made in that context, it
  // would keep the first turn's state, however large, until the process exits.
  it("keeps nothing of the async context of a client's first call", async () => {
    const clients = new BedrockClients({
      credentials: async () => ({ accessKeyId: 'AKIDCONTEXT', secretAccessKey: 'secret' }),
      maxAttempts: 1,
      endpoint: emulator.url,
      profile: undefined,
    });
    const turn = new AsyncLocalStorage<object>();
    let ref: WeakRef<object> | undefined;
    emulator.enqueue({ blocks: [{ text: 'Hello there.' }] });
    await (async () => {
      const state = { messages: ['x'.repeat(100_000)] };
      ref = new WeakRef(state);
      await turn.run(state, async () => {
        const { stream } = await clients.get('us-east-1').send(
          new ConverseStreamCommand({
            modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
            messages: [{ role: 'user', content: [{ text: 'hi' }] }],
          }),
        );
        for await (const _event of stream ?? []) {
          // Read to the end, as a turn does.
        }
      });
    })();
    for (let i = 0; i < 5 && ref?.deref(); i++) {
      await tick();
      gc();
    }
    expect(ref?.deref(), 'the first call keeps its async context alive').toBeUndefined();
    clients.destroy();
  });

  it('fails a stream that goes silent mid-answer, as a network failure', async () => {
    const clients = new BedrockClients({
      credentials: async () => ({ accessKeyId: 'AKIDSTALL', secretAccessKey: 'secret' }),
      maxAttempts: 1,
      endpoint: emulator.url,
      profile: undefined,
      stalledStreamMs: 300,
    });
    emulator.enqueue({ blocks: [{ text: 'this never finishes' }], hangAfterEvents: 2 });
    const started = Date.now();
    const read = (async () => {
      const { stream } = await clients.get('us-east-1').send(
        new ConverseStreamCommand({
          modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      );
      for await (const _event of stream ?? []) {
        // Two events arrive, then nothing.
      }
    })();
    await expect(read).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(Date.now() - started).toBeLessThan(3_000);
    clients.destroy();
  });

  it('streams more calls at once than any socket cap would allow, none queued', async () => {
    const clients = new BedrockClients({
      credentials: async () => ({ accessKeyId: 'AKIDMANY', secretAccessKey: 'secret' }),
      maxAttempts: 1,
      endpoint: emulator.url,
      profile: undefined,
    });
    emulator.reset();
    const calls = 100;
    const hung = { blocks: [{ text: 'held open' }], hangAfterEvents: 1 };
    emulator.enqueue(...Array.from({ length: calls }, () => hung));
    const controller = new AbortController();
    const streams = Array.from({ length: calls }, () =>
      clients
        .get('us-east-1')
        .send(
          new ConverseStreamCommand({
            modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
            messages: [{ role: 'user', content: [{ text: 'hi' }] }],
          }),
          { abortSignal: controller.signal },
        )
        .catch(() => undefined),
    );
    // Every call reaches Bedrock while the others still hold their streams open.
    await emulator.waitForRequests(calls, 5_000);
    expect(emulator.requests).toHaveLength(calls);
    controller.abort();
    await Promise.all(streams);
    clients.destroy();
  });

  it('lets a Converse call, silent until its whole answer, wait past the stream timeout', async () => {
    const clients = new BedrockClients({
      credentials: async () => ({ accessKeyId: 'AKIDSLOW', secretAccessKey: 'secret' }),
      maxAttempts: 1,
      endpoint: emulator.url,
      profile: undefined,
      stalledStreamMs: 300,
    });
    expect(clients.get('us-east-1', 'converse')).not.toBe(clients.get('us-east-1'));
    emulator.enqueue({ blocks: [{ text: 'a long answer' }], hangAfterEvents: 0 });
    const controller = new AbortController();
    const call = clients.get('us-east-1', 'converse').send(
      new ConverseCommand({
        modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      }),
      { abortSignal: controller.signal },
    );
    const outcome = await Promise.race([
      call.then(
        () => 'answered',
        (error: Error) => error.name,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1_000)),
    ]);
    expect(outcome).toBe('still waiting');
    controller.abort();
    await call.catch(() => undefined);
    clients.destroy();
  });
});
