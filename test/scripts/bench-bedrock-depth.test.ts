import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/docs.ts';

const run = promisify(execFile);

interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheWriteInputTokens: number;
  costUsd: number;
}
interface Turn {
  stopReason: string;
  usage: Usage;
}

describe('npm run bench:bedrock-depth', () => {
  it('measures what caching saves, what thinking adds and what the bound spares', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/bench-bedrock-depth.ts', '--json'],
      { cwd: repoRoot, timeout: 120_000 },
    );
    const figures = JSON.parse(stdout) as {
      caching: { on: Turn[]; off: Turn[] };
      thinking: { on: Turn[]; off: Turn[] };
      bursts: { bound: string; completed: number; throttled: number; peakInFlight: number }[];
    };
    const cost = (turns: Turn[]) => turns.reduce((sum, t) => sum + t.usage.costUsd, 0);
    const { on, off } = figures.caching;
    expect(on.map((t) => t.stopReason)).toEqual(['end_turn', 'end_turn', 'end_turn']);
    expect(on.slice(1).every((t) => t.usage.cacheReadInputTokens > 0)).toBe(true);
    expect(
      off.every((t) => t.usage.cacheReadInputTokens + t.usage.cacheWriteInputTokens === 0),
    ).toBe(true);
    expect(cost(on)).toBeLessThan(cost(off));
    expect(figures.thinking.on[0]!.usage.outputTokens).toBeGreaterThan(
      figures.thinking.off[0]!.usage.outputTokens,
    );
    const [unbounded, bounded] = figures.bursts;
    expect(unbounded).toMatchObject({ bound: 'none', peakInFlight: 4 });
    expect(bounded).toMatchObject({ bound: '4', completed: 40, throttled: 0, peakInFlight: 4 });
  }, 150_000);
});
