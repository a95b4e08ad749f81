import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { testEnv } from '../helpers/gateway.ts';
import { NpmScript } from '../helpers/npm-script.ts';

// Every file the configuration names is read at start-up; a problem in one stops the process
// with a message that names the file and the line or field, before it listens.

let emulator: Emulator;
let dir: string;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  dir = await mkdtemp(path.join(tmpdir(), 'startup-errors-'));
});
afterAll(async () => {
  await emulator.close();
});

async function file(name: string, text: string): Promise<string> {
  const at = path.join(dir, name);
  await mkdir(path.dirname(at), { recursive: true });
  await writeFile(at, text);
  return at;
}

const agents = (name: string, body: string) =>
  file(name, `agents:\n  - id: a\n    description: An agent.\n${body}`);

/** The problems buildApp stops with. */
async function problems(env: Record<string, string>): Promise<string[]> {
  const config = loadConfig(testEnv(emulator, env));
  const error = await buildApp(config, pino({ level: 'silent' })).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  return [...(error as ConfigError).problems];
}

describe('start-up errors in the files the configuration names', () => {
  it.each([
    [
      'a tool no source has',
      'tools: [weather]',
      /agent "a", field tools: no tool is named "weather"/,
    ],
    [
      'a skill SKILLS_DIR lacks',
      'skills: [astrology]',
      /agent "a", field skills: no skill is named "astrology"/,
    ],
    [
      'an MCP server not configured',
      'mcpServers: [files]',
      /agent "a", field mcpServers: no MCP server is named "files"/,
    ],
    [
      'a model not configured',
      'model: gpt-5',
      /agent "a", field model: "gpt-5" is not one of the configured models/,
    ],
    [
      'a tool to approve that does not exist',
      'approve: [launch]',
      /agent "a", field approve: no tool is named "launch"/,
    ],
  ])('an agent naming %s', async (_name, body, expected) => {
    const at = await agents(`agents-${Math.random().toString(36).slice(2)}.yaml`, `    ${body}\n`);
    const found = await problems({ AGENTS_FILE: at });
    expect(
      found.some((p) => expected.test(p) && p.includes(at)),
      found.join('\n'),
    ).toBe(true);
  });

  it('a graph module that does not load, and one whose export is not a graph', async () => {
    await file('graphs/not-a-graph.ts', 'export const graph = { name: "nope" };\n');
    const at = await file(
      'graph-agents.yaml',
      `agents:
  - id: missing
    description: d
    graph: ./graphs/nowhere.ts#graph
  - id: wrong
    description: d
    graph: ./graphs/not-a-graph.ts#graph
`,
    );
    const found = await problems({ AGENTS_FILE: at });
    expect(found).toEqual([
      expect.stringMatching(/agent "missing", field graph: .*nowhere\.ts does not load/),
      expect.stringMatching(
        /agent "wrong", field graph: .*not-a-graph\.ts export "graph" is not a compiled graph/,
      ),
    ]);
  });

  it('a tool module that clashes with a built-in tool names both', async () => {
    const found = await problems({ TOOL_MODULES: 'test/fixtures/tools/calculator-clash.ts' });
    expect(found.join('\n')).toMatch(/calculator/);
    expect(found.join('\n')).toMatch(/built-in/);
    expect(found.join('\n')).toMatch(/calculator-clash\.ts/);
  });

  it('a skill that names a tool nobody provides', async () => {
    await file(
      'skills/weather/SKILL.md',
      '---\nname: weather\ndescription: Forecasts.\ntools: [forecast]\n---\nUse forecast.\n',
    );
    const found = await problems({ SKILLS_DIR: path.join(dir, 'skills') });
    expect(found).toEqual([
      expect.stringMatching(
        /skill "weather" .* names tool "forecast", which no tool source provides/,
      ),
    ]);
  });

  it('a tool in APPROVAL_REQUIRED_TOOLS that does not exist (a typo would leave the real one unguarded)', async () => {
    const found = await problems({ APPROVAL_REQUIRED_TOOLS: 'calculator,clsoe_ticket' });
    expect(found).toEqual([
      'APPROVAL_REQUIRED_TOOLS names "clsoe_ticket", which no tool source provides',
    ]);
  });

  it('a malformed MCP file', async () => {
    const at = await file('mcp.json', '{"mcpServers": {"x": {"args": []}}}');
    const found = await problems({ MCP_CONFIG_FILE: at });
    expect(found.join('\n')).toContain(`MCP_CONFIG_FILE ${at}`);
  });

  it('npm start exits 1 with the problem on stderr, naming the file, line, agent and field', async () => {
    const at = await agents('bad-process.yaml', '    maxSteps: many\n');
    const npm = new NpmScript(['start'], {
      ...testEnv(emulator),
      AGENTS_FILE: at,
      LOG_LEVEL: 'warn',
    });
    const { code } = await npm.exited;
    await npm.closed;
    expect(code).toBe(1);
    expect(npm.stderr).toContain(`AGENTS_FILE ${at}:4: agent "a", field maxSteps:`);
    expect(npm.stdout).not.toContain('agentgate ready');
  }, 30_000);
});
