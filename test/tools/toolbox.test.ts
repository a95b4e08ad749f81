import { tool } from '@langchain/core/tools';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BUILTIN_TOOLS } from '../../src/agent/tools/index.ts';
import { ConfigError } from '../../src/config/config.ts';
import { loadToolModules, moduleSource } from '../../src/tools/modules.ts';
import { assembleTools, type ToolSource } from '../../src/tools/toolbox.ts';

const FIXTURES = 'test/fixtures/tools';
const EXAMPLE = 'examples/tools/support-tickets.ts';

/** The built-ins, then the modules of `paths`, as start-up assembles them. */
async function sources(paths: string[]): Promise<ToolSource[]> {
  const modules = await loadToolModules(paths);
  return [
    { source: 'built-in', tools: BUILTIN_TOOLS },
    ...modules.map((m) => ({ source: moduleSource(m.module), tools: m.tools })),
  ];
}

function assemblyProblems(all: ToolSource[]): readonly string[] {
  try {
    assembleTools(all);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('assembleTools accepted the sources');
}

const named = (name: string) =>
  tool(async () => 'ok', { name, description: 'A tool.', schema: z.object({}) });

describe('assembleTools', () => {
  it('offers the built-ins and every module tool by name, with its source', async () => {
    const toolbox = assembleTools(await sources([EXAMPLE, `${FIXTURES}/async-tools.ts`]));
    expect([...toolbox].map(([name, entry]) => [name, entry.source])).toEqual([
      ['current_time', 'built-in'],
      ['calculator', 'built-in'],
      ['lookup_ticket', `module ${EXAMPLE}`],
      ['close_ticket', `module ${EXAMPLE}`],
      ['reverse_word', `module ${FIXTURES}/async-tools.ts`],
    ]);
    expect(toolbox.get('reverse_word')?.tool.name).toBe('reverse_word');
  });

  it('refuses a module tool named like a built-in, naming both sources', async () => {
    const problems = assemblyProblems(await sources([`${FIXTURES}/calculator-clash.ts`]));
    expect(problems).toEqual([
      `the tool name "calculator" is given by both built-in and module ${FIXTURES}/calculator-clash.ts; tool names must be unique (rename one).`,
    ]);
  });

  it('refuses two modules giving the same name, naming both', async () => {
    const problems = assemblyProblems(await sources([EXAMPLE, `${FIXTURES}/tickets-clash.ts`]));
    expect(problems).toEqual([
      `the tool name "lookup_ticket" is given by both module ${EXAMPLE} and module ${FIXTURES}/tickets-clash.ts; tool names must be unique (rename one).`,
    ]);
  });

  it('refuses a name given twice by one source', () => {
    const problems = assemblyProblems([
      { source: 'skill sql', tools: [named('run_query'), named('run_query')] },
    ]);
    expect(problems).toEqual([
      'skill sql gives two tools named "run_query"; tool names must be unique.',
    ]);
  });

  it.each([
    ['has spaces', '"has spaces"'],
    ['dotted.name', '"dotted.name"'],
    ['', '""'],
    ['x'.repeat(65), `"${'x'.repeat(65)}"`],
    ['résumé', '"résumé"'],
  ])('refuses the name %j, naming its source', (name, shown) => {
    expect(assemblyProblems([{ source: 'mcp server fixture', tools: [named(name)] }])).toEqual([
      `mcp server fixture: the tool name ${shown} is not valid: Bedrock takes 1–64 of A–Z a–z 0–9 _ -.`,
    ]);
  });

  it('accepts names of 1 and 64 characters with _ and -', () => {
    const long = `a-${'b_'.repeat(31)}`;
    expect(long).toHaveLength(64);
    const toolbox = assembleTools([{ source: 'built-in', tools: [named('x'), named(long)] }]);
    expect([...toolbox.keys()]).toEqual(['x', long]);
  });

  it('reports every problem at once', () => {
    const problems = assemblyProblems([
      { source: 'built-in', tools: [named('a'), named('b')] },
      { source: 'skill one', tools: [named('a'), named('bad name')] },
      { source: 'skill two', tools: [named('b')] },
    ]);
    expect(problems).toHaveLength(3);
  });
});
