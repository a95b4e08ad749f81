import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadToolModules } from '../../src/tools/modules.ts';
import { requiresApproval } from '../../src/tools/plugin.ts';
import { toolTimeout } from '../../src/tools/run-tool.ts';

const FIXTURES = 'test/fixtures/tools';
const EXAMPLE = 'examples/tools/support-tickets.ts';

/** The problems of the ConfigError that loading `paths` throws; fails if it loads. */
async function loadProblems(paths: string[]): Promise<readonly string[]> {
  try {
    await loadToolModules(paths);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error(`loadToolModules accepted ${paths.join(', ')}`);
}

describe('loadToolModules', () => {
  it('loads the example module (an array) with its tools and their metadata', async () => {
    const [loaded] = await loadToolModules([EXAMPLE]);
    expect(loaded?.module).toBe(EXAMPLE);
    expect(loaded?.tools.map((t) => t.name)).toEqual(['lookup_ticket', 'close_ticket']);
    const [lookup, close] = loaded!.tools;
    expect(requiresApproval(lookup!)).toBe(false);
    expect(requiresApproval(close!)).toBe(true);
    expect(toolTimeout(lookup!, 30_000)).toBe(30_000);
    expect(toolTimeout(close!, 30_000)).toBe(10_000);
    expect(await lookup!.invoke({ id: 'T-1003' })).toMatchObject({ status: 'closed' });
  });

  it('loads modules whose default export is an async or a sync function, .ts and .mjs, in order', async () => {
    const loaded = await loadToolModules([
      `${FIXTURES}/async-tools.ts`,
      `${FIXTURES}/sync-function.mjs`,
      EXAMPLE,
    ]);
    expect(loaded.map((m) => [m.module, m.tools.map((t) => t.name)])).toEqual([
      [`${FIXTURES}/async-tools.ts`, ['reverse_word']],
      [`${FIXTURES}/sync-function.mjs`, ['add_numbers']],
      [EXAMPLE, ['lookup_ticket', 'close_ticket']],
    ]);
    expect(await loaded[0]!.tools[0]!.invoke({ word: 'gate' })).toBe('etag');
    expect(toolTimeout(loaded[0]!.tools[0]!, 30_000)).toBe(1234);
    expect(await loaded[1]!.tools[0]!.invoke({ a: 2, b: 3 })).toBe('5');
  });

  it('resolves paths from the working directory, absolute ones as they are', async () => {
    const [loaded] = await loadToolModules([path.resolve(EXAMPLE)]);
    expect(loaded?.tools).toHaveLength(2);
  });

  it('loads nothing for an empty list', async () => {
    expect(await loadToolModules([])).toEqual([]);
  });

  it('refuses a missing file, naming the module and where it looked', async () => {
    const problems = await loadProblems([`${FIXTURES}/nope.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/nope.ts: there is no such file (looked for ${path.resolve(FIXTURES, 'nope.ts')})`,
    ]);
  });

  it('refuses a module with a syntax error, naming the module', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentgate-tools-'));
    const file = path.join(dir, 'broken.ts');
    writeFileSync(file, 'export default [\n  tool(async () => "x", {\n};\n');
    const problems = await loadProblems([file]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^TOOL_MODULES module ${file}: it does not load: `));
  });

  it('refuses a module that throws while it loads, with what it threw', async () => {
    const problems = await loadProblems([`${FIXTURES}/throws-at-import.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/throws-at-import.ts: it does not load: TICKETS_API_URL is not set`,
    ]);
  });

  it('refuses a module whose default export function throws', async () => {
    const problems = await loadProblems([`${FIXTURES}/function-throws.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/function-throws.ts: its default export, a function, threw: cannot reach the ticket system`,
    ]);
  });

  it('refuses a default export that is not an array or a function, and a missing one', async () => {
    const problems = await loadProblems([
      `${FIXTURES}/object-export.ts`,
      `${FIXTURES}/no-default.ts`,
    ]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/object-export.ts: its default export is an object; it must be an array of LangChain tools or a function returning one`,
      `TOOL_MODULES module ${FIXTURES}/no-default.ts: it has no default export; export default an array of LangChain tools or a function returning one`,
    ]);
  });

  it('refuses an item that is not a LangChain tool, naming its place', async () => {
    const problems = await loadProblems([`${FIXTURES}/not-a-tool.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/not-a-tool.ts: item 2 of its tools is an object, not a LangChain tool (make one with tool() from @langchain/core/tools)`,
    ]);
  });

  it('refuses a tool name Bedrock would refuse', async () => {
    const problems = await loadProblems([`${FIXTURES}/bad-name.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/bad-name.ts: item 1: the tool name "look up.ticket" is not valid: Bedrock takes 1–64 of A–Z a–z 0–9 _ -`,
    ]);
  });

  it('refuses metadata agentgate cannot use', async () => {
    const problems = await loadProblems([`${FIXTURES}/bad-metadata.ts`]);
    expect(problems).toEqual([
      `TOOL_MODULES module ${FIXTURES}/bad-metadata.ts: tool "odd_metadata": metadata.requiresApproval must be true or false, not a string ("yes")`,
      `TOOL_MODULES module ${FIXTURES}/bad-metadata.ts: tool "odd_metadata": metadata.timeoutMs must be a whole number of milliseconds, 1–3600000, not a number (-5)`,
    ]);
  });

  it('reports every bad module at once, good ones among them', async () => {
    const problems = await loadProblems([
      `${FIXTURES}/nope.ts`,
      EXAMPLE,
      `${FIXTURES}/throws-at-import.ts`,
    ]);
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      `TOOL_MODULES module ${FIXTURES}/nope.ts`,
      `TOOL_MODULES module ${FIXTURES}/throws-at-import.ts`,
    ]);
  });
});

describe('loadToolModules under tsx, as the gateway and the worker run', () => {
  /** What `node --import tsx` prints after loading `paths` from the repository root. */
  const loadInChild = (paths: string[]): unknown =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ['--import', 'tsx', `${FIXTURES}/print-modules.ts`, ...paths],
        {
          encoding: 'utf8',
        },
      ),
    );

  it('loads .ts and .mjs modules of both shapes', () => {
    expect(
      loadInChild([EXAMPLE, `${FIXTURES}/async-tools.ts`, `${FIXTURES}/sync-function.mjs`]),
    ).toEqual([
      [EXAMPLE, ['lookup_ticket', 'close_ticket']],
      [`${FIXTURES}/async-tools.ts`, ['reverse_word']],
      [`${FIXTURES}/sync-function.mjs`, ['add_numbers']],
    ]);
  });

  it('names the file and line of a syntax error', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentgate-tools-'));
    const file = path.join(dir, 'broken.ts');
    writeFileSync(file, 'export default [\n  tool(async () => "x", {\n};\n');
    expect(loadInChild([file, `${FIXTURES}/throws-at-import.ts`])).toEqual({
      problems: [
        expect.stringMatching(
          new RegExp(`^TOOL_MODULES module ${file}: it does not load: .*${file}:3:\\d+: ERROR`),
        ),
        `TOOL_MODULES module ${FIXTURES}/throws-at-import.ts: it does not load: TICKETS_API_URL is not set`,
      ],
    });
  });
});
