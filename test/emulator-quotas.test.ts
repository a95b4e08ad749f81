import { ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from './emulator/index.ts';
import { BedrockClients, readStream, rejection, statusOf, user } from './helpers/bedrock.ts';

const A = 'us.anthropic.claude-sonnet-4-20250514-v1:0';
const B = 'amazon.nova-lite-v1:0';
const THROTTLED = 'Too many requests, please wait before trying again.';

let emulator: Emulator;
const bedrock = new BedrockClients(() => emulator.url);
/** Releases of the requests a test holds open. */
const held: (() => Promise<void>)[] = [];

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});

afterAll(() => emulator.close());

beforeEach(() => emulator.reset());

afterEach(async () => {
  for (const release of held.splice(0)) await release();
  bedrock.destroyAll();
});

/** Resolves once `check` holds; fails after 2 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Starts a ConverseStream to `modelId` that the emulator holds open; `release()` aborts it and
 * resolves once the emulator saw the abort. Each test's held requests are released after it.
 */
async function hold(target: Emulator, modelId: string) {
  target.enqueue({ blocks: [{ text: 'held' }], hangAfterEvents: 1 });
  const controller = new AbortController();
  const client = bedrock.client({ endpoint: target.url });
  await client.send(new ConverseStreamCommand({ modelId, messages: [user('hold')] }), {
    abortSignal: controller.signal,
  });
  // Held one at a time, so the latest record is this request's.
  const record = target.requests.at(-1);
  const release = async () => {
    controller.abort();
    await until(() => record?.aborted === true, 'the emulator to see the abort');
  };
  held.push(release);
  return { release };
}

function converse(target: Emulator, modelId: string) {
  return bedrock
    .client({ endpoint: target.url })
    .send(new ConverseCommand({ modelId, messages: [user('hi')] }));
}

describe('requests in flight', () => {
  it('counts each model’s requests from arrival to abort, and keeps the peak', async () => {
    const first = await hold(emulator, A);
    const second = await hold(emulator, A);
    expect([emulator.inFlight(A), emulator.inFlight(B)]).toEqual([2, 0]);
    await first.release();
    expect(emulator.inFlight(A)).toBe(1);
    await second.release();
    expect(emulator.inFlight(A)).toBe(0);
    expect(emulator.peakInFlight(A)).toBe(2);
    emulator.reset();
    expect(emulator.peakInFlight(A)).toBe(0);
  });

  it('counts a request out once its response ended, over both operations', async () => {
    emulator.enqueue({ blocks: [{ text: 'one' }] }, { blocks: [{ text: 'two' }] });
    await converse(emulator, A);
    expect(emulator.inFlight(A)).toBe(0);
    const response = await bedrock
      .client()
      .send(new ConverseStreamCommand({ modelId: A, messages: [user('hi')] }));
    expect((await readStream(response.stream)).text).toBe('two');
    expect(emulator.inFlight(A)).toBe(0);
    expect(emulator.peakInFlight(A)).toBe(1);
  });
});

describe('a concurrency quota', () => {
  it('throttles the request over it, for its model only, until one ends', async () => {
    emulator.setConcurrencyQuota(A, 2);
    const first = await hold(emulator, A);
    await hold(emulator, A);
    const error = await rejection(converse(emulator, A));
    expect(error.name).toBe('ThrottlingException');
    expect(statusOf(error)).toBe(429);
    expect(error.message).toBe(THROTTLED);
    expect(emulator.requests.at(-1)?.status).toBe(429);
    // Throttled requests never count.
    expect(emulator.peakInFlight(A)).toBe(2);

    emulator.enqueue({ blocks: [{ text: 'other model' }] });
    expect((await converse(emulator, B)).output?.message?.content).toEqual([
      { text: 'other model' },
    ]);
    await first.release();
    emulator.enqueue({ blocks: [{ text: 'room again' }] });
    expect((await converse(emulator, A)).output?.message?.content).toEqual([
      { text: 'room again' },
    ]);
  });

  it('refuses an invalid request as invalid, before the quota, without counting it', async () => {
    emulator.setConcurrencyQuota(A, 0);
    const invalid = await rejection(
      bedrock.client().send(new ConverseCommand({ modelId: A, messages: [] })),
    );
    expect(invalid.name).toBe('ValidationException');
    expect((await rejection(converse(emulator, A))).name).toBe('ThrottlingException');
    expect(emulator.peakInFlight(A)).toBe(0);
  });

  it('comes from the start options, `*` for every model, and reset() restores them', async () => {
    const quoted = await startEmulator({ paceMs: 0, concurrencyQuotas: { '*': 1, [B]: 2 } });
    try {
      await hold(quoted, A);
      expect((await rejection(converse(quoted, A))).name).toBe('ThrottlingException');
      await hold(quoted, B);
      await hold(quoted, B);
      expect((await rejection(converse(quoted, B))).name).toBe('ThrottlingException');

      quoted.setConcurrencyQuota('*', undefined);
      quoted.enqueue({ blocks: [{ text: 'unlimited' }] });
      expect((await converse(quoted, A)).stopReason).toBe('end_turn');
      quoted.reset();
      expect((await rejection(converse(quoted, A))).name).toBe('ThrottlingException');
    } finally {
      await quoted.close();
    }
  });
});
