import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readAgentsFile } from '../../src/agents/agents-file.ts';
import { ConfigError } from '../../src/config/config.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'agents-file-'));
});

async function file(name: string, text: string): Promise<string> {
  const at = path.join(dir, name);
  await writeFile(at, text);
  return at;
}

/** The problems a file's ConfigError lists. */
async function problems(text: string): Promise<string[]> {
  const at = await file(`bad-${Math.random().toString(36).slice(2)}.yaml`, text);
  const error = await readAgentsFile(at).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  const { problems } = error as ConfigError;
  for (const p of problems) expect(p).toContain(at);
  return [...problems];
}

describe('AGENTS_FILE', () => {
  it('reads agents, takes default: true as the default, and resolves graph paths against its folder', async () => {
    const at = await file(
      'agents.yaml',
      `agents:
  - id: support
    description: Answers support questions.
    systemPrompt: Be kind.
    tools: [calculator]
    skills: [sql]
    approve: [calculator]
    maxSteps: 3
  - id: react
    description: A graph.
    default: true
    graph: ./graphs/react.ts#createGraph
`,
    );
    const contents = await readAgentsFile(at);
    expect(contents.defaultId).toBe('react');
    expect(contents.agents.map((a) => a.id)).toEqual(['support', 'react']);
    expect(contents.agents[0]).toMatchObject({
      tools: ['calculator'],
      skills: ['sql'],
      maxSteps: 3,
    });
    expect(contents.agents[1]!.graphModule).toEqual({
      path: path.join(dir, 'graphs', 'react.ts'),
      exportName: 'createGraph',
    });
  });

  it('takes the first agent as the default when none says so', async () => {
    const at = await file(
      'two.yaml',
      'agents:\n  - {id: a, description: A}\n  - {id: b, description: B}\n',
    );
    expect((await readAgentsFile(at)).defaultId).toBe('a');
  });

  it('names the line of a YAML syntax error', async () => {
    const [problem] = await problems('agents:\n  - id: a\n    description: [unclosed\n');
    expect(problem).toMatch(/:\d+: /);
  });

  it('names the agent, the field and its line for an unknown or wrong field', async () => {
    const found = await problems(
      'agents:\n  - id: ok\n    description: fine\n  - id: support\n    description: x\n    maxSteps: lots\n    colour: blue\n',
    );
    expect(found.some((p) => /:6: agent "support", field maxSteps: /.test(p))).toBe(true);
    expect(found.some((p) => /agent "support": .*colour/.test(p))).toBe(true);
  });

  it.each([
    ['no agents', 'agents: []\n', /field agents: /],
    ['not a list', 'agents: {id: a}\n', /field agents: /],
    ['a missing description', 'agents:\n  - id: a\n', /agent "a", field description: /],
    ['a bad id', 'agents:\n  - id: "no spaces"\n    description: d\n', /field id: 1–64 of/],
    [
      'a graph without an export',
      'agents:\n  - id: g\n    description: d\n    graph: ./x.ts\n',
      /agent "g", field graph: a module path and an export/,
    ],
    [
      'a graph with a system prompt',
      'agents:\n  - id: g\n    description: d\n    graph: ./x.ts#g\n    systemPrompt: hi\n',
      /agent "g", field systemPrompt: not for a graph agent/,
    ],
    ['an unknown top-level key', 'agents:\n  - {id: a, description: d}\nextra: 1\n', /extra/],
  ])('refuses %s', async (_name, text, expected) => {
    const found = await problems(text);
    expect(
      found.some((p) => expected.test(p)),
      found.join('\n'),
    ).toBe(true);
  });

  it('refuses two agents with one id, and two defaults', async () => {
    const found = await problems(
      'agents:\n  - {id: a, description: d, default: true}\n  - {id: a, description: e, default: true}\n',
    );
    expect(found.some((p) => p.includes('agent "a" is defined twice'))).toBe(true);
    expect(found.some((p) => p.includes('more than one agent has default: true'))).toBe(true);
  });

  it('says a file that cannot be read', async () => {
    const missing = path.join(dir, 'nope.yaml');
    await expect(readAgentsFile(missing)).rejects.toThrow(`AGENTS_FILE ${missing}: cannot be read`);
  });
});
