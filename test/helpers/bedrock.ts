/**
 * The real Bedrock Runtime client pointed at an emulator, and a ConverseStream read back the way
 * an SDK consumer reads it, for the emulator's tests.
 */

import {
  BedrockRuntimeClient,
  type BedrockRuntimeClientConfig,
  type ConverseStreamOutput,
  type ConverseStreamTrace,
  type Message,
  type TokenUsage,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { type Emulator, type StartOptions, startEmulator } from '../emulator/index.ts';

/**
 * An emulator for the test file (reset before each test) and the SDK clients made on it
 * (destroyed after each test). `rig.emulator` is set once the file's tests start.
 */
export function useEmulator(options: StartOptions = {}): {
  readonly emulator: Emulator;
  readonly bedrock: BedrockClients;
} {
  let emulator: Emulator | undefined;
  const bedrock: BedrockClients = new BedrockClients(() => rig.emulator.url);
  const rig = {
    get emulator(): Emulator {
      if (!emulator) throw new Error('The emulator starts with the first test.');
      return emulator;
    },
    bedrock,
  };
  beforeAll(async () => {
    emulator = await startEmulator({ paceMs: 0, ...options });
  });
  afterAll(() => emulator?.close());
  beforeEach(() => emulator?.reset());
  afterEach(() => bedrock.destroyAll());
  return rig;
}

/** Clients made for one test file; `destroyAll()` after each test. */
export class BedrockClients {
  readonly #made: BedrockRuntimeClient[] = [];

  constructor(readonly endpoint: () => string) {}

  client(config: Partial<BedrockRuntimeClientConfig> = {}): BedrockRuntimeClient {
    const created = new BedrockRuntimeClient({
      endpoint: this.endpoint(),
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
      maxAttempts: 1,
      ...config,
    });
    this.#made.push(created);
    return created;
  }

  destroyAll(): void {
    for (const created of this.#made.splice(0)) created.destroy();
  }
}

export function user(text: string): Message {
  return { role: 'user', content: [{ text }] };
}

/** A reasoning block as received, to send back. */
export interface ReceivedReasoning {
  text: string;
  signature: string | undefined;
}

export interface StreamRead {
  /** `messageStart`, `contentBlockDelta`, … in order. */
  events: string[];
  text: string;
  reasoning: ReceivedReasoning[];
  redacted: Uint8Array[];
  stopReason: string | undefined;
  usage: TokenUsage | undefined;
  trace: ConverseStreamTrace | undefined;
}

/** Reads a ConverseStream to its end. */
export async function readStream(
  stream: AsyncIterable<ConverseStreamOutput> | undefined,
): Promise<StreamRead> {
  const out: StreamRead = {
    events: [],
    text: '',
    reasoning: [],
    redacted: [],
    stopReason: undefined,
    usage: undefined,
    trace: undefined,
  };
  const reasoningAt = new Map<number, ReceivedReasoning>();
  for await (const event of stream ?? []) {
    out.events.push(Object.keys(event)[0] ?? '');
    const delta = event.contentBlockDelta?.delta;
    const index = event.contentBlockDelta?.contentBlockIndex ?? 0;
    if (delta?.text !== undefined) out.text += delta.text;
    const reasoning = delta?.reasoningContent;
    if (reasoning?.redactedContent) out.redacted.push(reasoning.redactedContent);
    if (reasoning?.text !== undefined || reasoning?.signature !== undefined) {
      let block = reasoningAt.get(index);
      if (!block) {
        block = { text: '', signature: undefined };
        reasoningAt.set(index, block);
        out.reasoning.push(block);
      }
      block.text += reasoning.text ?? '';
      if (reasoning.signature !== undefined) {
        block.signature = (block.signature ?? '') + reasoning.signature;
      }
    }
    if (event.messageStop) out.stopReason = event.messageStop.stopReason;
    if (event.metadata) {
      out.usage = event.metadata.usage;
      out.trace = event.metadata.trace;
    }
  }
  return out;
}

/** The error a promise rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

/** The HTTP status of an SDK error. */
export function statusOf(error: Record<string, unknown>): number | undefined {
  return (error.$metadata as { httpStatusCode?: number } | undefined)?.httpStatusCode;
}
