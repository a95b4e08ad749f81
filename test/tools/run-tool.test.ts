import { StructuredTool, tool } from '@langchain/core/tools';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { calculator } from '../../src/agent/tools/calculator.ts';
import { loadToolModules } from '../../src/tools/modules.ts';
import { runTool, toolTimeout } from '../../src/tools/run-tool.ts';

const [example] = await loadToolModules(['examples/tools/support-tickets.ts']);
const lookupTicket = example!.tools.find((t) => t.name === 'lookup_ticket')!;

/** A tool that never answers and never looks at its signal. */
class StuckTool extends StructuredTool {
  name = 'stuck';
  description = 'Never answers.';
  schema = z.object({});
  calls = 0;
  protected override _call(): Promise<string> {
    this.calls++;
    return new Promise(() => {});
  }
}

const run = { timeoutMs: 5_000, config: {} };

describe('runTool', () => {
  it('gives a string result as it is', async () => {
    expect(await runTool(calculator, { expression: '(12+30)*2' }, run)).toEqual({
      output: '84',
      isError: false,
    });
  });

  it('gives any other result as JSON', async () => {
    expect(await runTool(lookupTicket, { id: 'T-1003' }, run)).toEqual({
      output:
        '{"id":"T-1003","title":"Export to CSV times out","status":"closed","note":"Fixed in 2.4.1"}',
      isError: false,
    });
    const nothing = tool(async () => undefined, {
      name: 'nothing',
      description: 'Returns nothing.',
      schema: z.object({}),
    });
    expect(await runTool(nothing, {}, run)).toEqual({ output: 'undefined', isError: false });
  });

  it('refuses input that does not match the schema without running the tool, saying why', async () => {
    let calls = 0;
    const counted = tool(
      async () => {
        calls++;
        return 'ran';
      },
      {
        name: 'counted',
        description: 'Counts its calls.',
        schema: z.object({ id: z.string(), count: z.number().int().min(1) }),
      },
    );
    expect(await runTool(counted, { id: 42, count: 0 }, run)).toEqual({
      output:
        'Error: invalid input for tool "counted": id: Invalid input: expected string, received number; count: Too small: expected number to be >=1',
      isError: true,
    });
    expect(calls).toBe(0);
    const result = await runTool(lookupTicket, { id: 'ticket 7' }, run);
    expect(result).toEqual({
      output: 'Error: invalid input for tool "lookup_ticket": id: a ticket id such as T-1001',
      isError: true,
    });
  });

  it('gives a schema that throws while checking as an error result', async () => {
    const fragile = tool(async () => 'ran', {
      name: 'fragile',
      description: 'Has a refinement that throws.',
      schema: z.object({
        x: z.string().refine(() => {
          throw new Error('lookup table missing');
        }),
      }),
    });
    expect(await runTool(fragile, { x: 'a' }, run)).toEqual({
      output:
        'Error: invalid input for tool "fragile": its schema cannot check it (lookup table missing)',
      isError: true,
    });
  });

  it('checks a JSON Schema (as MCP tools have) too', async () => {
    const jsonTool = tool(async ({ n }: { n: number }) => String(n * 2), {
      name: 'double',
      description: 'Doubles a number.',
      schema: {
        type: 'object',
        properties: { n: { type: 'number' } },
        required: ['n'],
      },
    });
    expect(await runTool(jsonTool, { n: 21 }, run)).toEqual({ output: '42', isError: false });
    const wrong = await runTool(jsonTool, { n: 'x' }, run);
    expect(wrong.isError).toBe(true);
    expect(wrong.output).toMatch(/^Error: invalid input for tool "double": n: .*number/);
    const missing = await runTool(jsonTool, {}, run);
    expect(missing.output).toMatch(/^Error: invalid input for tool "double": the input: .*"n"/);
  });

  it('gives a throw as an error result with its message', async () => {
    expect(await runTool(lookupTicket, { id: 'T-9999' }, run)).toEqual({
      output: 'Error: There is no ticket T-9999.',
      isError: true,
    });
  });

  it('ends a tool that never answers and ignores its signal at the timeout', async () => {
    const stuck = new StuckTool();
    const started = performance.now();
    const result = await runTool(stuck, {}, { timeoutMs: 150, config: {} });
    const elapsed = performance.now() - started;
    expect(result).toEqual({ output: 'Error: Tool stuck timed out after 150 ms.', isError: true });
    expect(stuck.calls).toBe(1);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('aborts the signal a tool gets when its time is up', async () => {
    let seen: AbortSignal | undefined;
    const waits = tool(
      async (_input, config) => {
        seen = config.signal;
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        return 'late';
      },
      { name: 'waits', description: 'Waits.', schema: z.object({}) },
    );
    const result = await runTool(waits, {}, { timeoutMs: 50, config: {} });
    expect(result).toEqual({ output: 'Error: Tool waits timed out after 50 ms.', isError: true });
    expect(seen?.aborted).toBe(true);
  });

  it('takes the timeout of metadata.timeoutMs over the default', async () => {
    const stuck = new StuckTool({ metadata: { timeoutMs: 60 } });
    expect(toolTimeout(stuck, 30_000)).toBe(60);
    expect(toolTimeout(new StuckTool(), 30_000)).toBe(30_000);
    const started = performance.now();
    const result = await runTool(stuck, {}, { timeoutMs: toolTimeout(stuck, 30_000), config: {} });
    expect(result).toEqual({ output: 'Error: Tool stuck timed out after 60 ms.', isError: true });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('throws the abort of a cancelled turn instead of giving a result', async () => {
    const turn = new AbortController();
    const stuck = new StuckTool();
    const running = runTool(stuck, {}, { timeoutMs: 10_000, config: { signal: turn.signal } });
    setTimeout(() => turn.abort(new Error('turn cancelled')), 30);
    const started = performance.now();
    await expect(running).rejects.toThrow('turn cancelled');
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('throws for a tool that stops on the abort, and runs nothing once the turn is cancelled', async () => {
    const turn = new AbortController();
    const waits = tool(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        return 'late';
      },
      { name: 'waits', description: 'Waits.', schema: z.object({}) },
    );
    const running = runTool(waits, {}, { timeoutMs: 10_000, config: { signal: turn.signal } });
    setTimeout(() => turn.abort(), 20);
    await expect(running).rejects.toThrow(/abort/i);

    const stuck = new StuckTool();
    await expect(
      runTool(stuck, {}, { timeoutMs: 10_000, config: { signal: turn.signal } }),
    ).rejects.toThrow(/abort/i);
    expect(stuck.calls).toBe(0);
  });
});
