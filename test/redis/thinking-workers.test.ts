/**
 * Extended thinking across processes: reasoning blocks keep their signatures through Redis,
 * so a later turn on another worker, with tool calls after thinking, is accepted by Bedrock
 * (the emulator checks every signature as Bedrock does); one dropped signature is refused.
 */
import { describe, expect, it } from 'vitest';
import type { Reply } from '../emulator/index.ts';
import { type Frame, TestClient } from '../helpers/ws-client.ts';
import { useProcessRig } from './processes.ts';

const SONNET_37 = 'us.anthropic.claude-3-7-sonnet-20250219-v1:0';
const rig = useProcessRig({
  env: { BEDROCK_MODEL_ARNS: SONNET_37, BEDROCK_REASONING_BUDGET_TOKENS: '1024' },
});

const toolUse = (expression: string) => ({
  toolUse: { name: 'calculator', input: { expression } },
});
const turnEnd = (frames: Frame[]) => frames.find((f) => f.type === 'turn-end') as Frame;

/** A thinking turn with a tool call: reasoning then the call, reasoning then the answer. */
function thinkingTurn(expression: string, answer: string): Reply[] {
  return [
    { blocks: [{ reasoning: `I should compute ${expression}.` }, toolUse(expression)] },
    { blocks: [{ reasoning: `The calculator said ${answer}.` }, { text: `It is ${answer}.` }] },
  ];
}

describe('thinking with tool calls across turns and worker processes', () => {
  it('is accepted on another worker, and refused once a stored signature is dropped', async () => {
    rig.showLogsOnFailure();
    const gateway = await rig.gateway('gateway');
    const first = await rig.worker('worker-a');
    const client = await TestClient.connect(gateway.wsUrl);
    try {
      rig.emulator.enqueue(...thinkingTurn('6*7', '42'));
      const one = turnEnd(await client.chat('what is 6*7?', {}, 20_000));
      expect(one.stopReason).toBe('end_turn');
      const conversationId = one.conversationId as string;
      // Turn two runs on another process: all it knows of turn one is what Redis holds.
      await first.stop();
      await rig.worker('worker-b');
      rig.emulator.enqueue(...thinkingTurn('7*8', '56'));
      const two = turnEnd(await client.chat('and 7*8?', { conversationId }, 20_000));
      expect(two.stopReason).toBe('end_turn');
      expect(two.text).toBe('It is 56.');
      const last = rig.emulator.requests.at(-1)?.body;
      const signed = (last?.messages ?? [])
        .filter((m) => m.role === 'assistant')
        .map(
          (m) =>
            (m.content?.[0]?.reasoningContent as { reasoningText?: { signature?: string } })
              ?.reasoningText?.signature,
        );
      expect(signed).toHaveLength(3);
      for (const signature of signed) expect(signature).toMatch(/\S{16,}/);

      // Drop one signature from the stored history: Bedrock (the emulator) refuses the next call.
      const key = `${rig.prefix}{${conversationId}}:messages`;
      const entries = await rig.admin.lrange(key, 0, -1);
      const at = entries.findIndex((e) => e.includes('"signature"'));
      expect(at).toBeGreaterThan(0);
      const entry = JSON.parse(entries[at]!);
      const blocks = entry.m.data.content as {
        signature?: string;
        reasoningText?: { signature?: string };
      }[];
      for (const block of blocks) {
        delete block.signature;
        delete block.reasoningText?.signature;
      }
      await rig.admin.lset(key, at, JSON.stringify(entry));
      rig.emulator.enqueue(...thinkingTurn('8*9', '72'));
      const frames = await client.chat('and 8*9?', { conversationId }, 20_000);
      const error = frames.find((f) => f.type === 'error');
      expect(turnEnd(frames).stopReason).toBe('error');
      expect(error?.code).toBe('model_error');
      expect(error?.message).toMatch(/signature/);
    } finally {
      await client.close();
    }
  }, 90_000);
});
