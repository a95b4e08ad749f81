import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { withGateway } from '../helpers/gateway.ts';
import { checkStored, checkTurn } from '../helpers/invariants.ts';

const EXAMPLE_GRAPH = path.resolve('examples/graphs/react-agent.ts');
const TICKETS = 'examples/tools/support-tickets.ts';

let emulator: Emulator;
let dir: string;
let agentsFile: string;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  dir = await mkdtemp(path.join(tmpdir(), 'agents-'));
  agentsFile = path.join(dir, 'agents.yaml');
  await writeFile(
    agentsFile,
    `agents:
  - id: helper
    description: Chats, with the calculator only.
    default: true
    systemPrompt: You are the helper agent.
    tools: [calculator]
  - id: clock
    description: Tells the time.
    systemPrompt: You are the clock agent.
    tools: [current_time]
    skills: []
    maxSteps: 2
  - id: careful
    description: Needs approval for the calculator.
    tools: [calculator, close_ticket, lookup_ticket]
    skills: []
    approve: [calculator]
  - id: react
    description: A LangGraph graph with the prebuilt ToolNode.
    graph: ${path.relative(dir, EXAMPLE_GRAPH)}#createGraph
    tools: [current_time, calculator]
`,
  );
});
afterAll(async () => {
  await emulator.close();
});

/** Names of the tools a model request offered. */
const offered = (index: number) =>
  (emulator.requests[index]?.body?.toolConfig?.tools ?? []).map((t) => t.toolSpec?.name).sort();
const systemOf = (index: number) =>
  (emulator.requests[index]?.body?.system ?? []).map((b) => (b as { text?: string }).text).join('');

describe('agents', () => {
  it('lists the agents in ready, runs the one a chat names, and keeps it for the conversation', async () => {
    emulator.reset();
    await withGateway(
      { AGENTS_FILE: agentsFile, TOOL_MODULES: TICKETS },
      async (gw) => {
        const client = await gw.connect();
        expect(client.ready.agents).toEqual([
          { id: 'helper', description: 'Chats, with the calculator only.', default: true },
          { id: 'clock', description: 'Tells the time.', default: false },
          { id: 'careful', description: 'Needs approval for the calculator.', default: false },
          {
            id: 'react',
            description: 'A LangGraph graph with the prebuilt ToolNode.',
            default: false,
          },
        ]);

        const first = await client.chat('hello', { agent: 'clock' });
        expect(first[0]).toMatchObject({ type: 'turn-start', agent: 'clock' });
        expect(offered(0)).toEqual(['current_time']);
        expect(systemOf(0)).toContain('You are the clock agent.');

        // No agent named: the conversation's own, not the default.
        const second = await client.chat('hello again');
        expect(second[0]).toMatchObject({ type: 'turn-start', agent: 'clock' });
        expect(offered(1)).toEqual(['current_time']);

        // A new conversation without an agent gets the default one.
        const another = await gw.connect();
        const other = await another.chat('hi');
        expect(other[0]).toMatchObject({ type: 'turn-start', agent: 'helper' });
        // Every skill by default: load_skill comes with them.
        expect(offered(2)).toEqual(['calculator', 'load_skill']);
        expect(systemOf(2)).toContain('sql');
        expect(systemOf(2)).toContain('You are the helper agent.');
      },
      { emulator },
    );
  });

  it('refuses an unknown agent with unknown_agent: nothing stored, no model call', async () => {
    emulator.reset();
    await withGateway(
      { AGENTS_FILE: agentsFile, TOOL_MODULES: TICKETS },
      async (gw) => {
        const client = await gw.connect();
        const [refused] = await client.chat('hello', { agent: 'nobody' });
        expect(refused).toMatchObject({
          type: 'error',
          code: 'unknown_agent',
          retryable: false,
          requestId: expect.any(String),
        });
        expect(refused!.message).toContain('helper, clock, careful, react');
        expect(emulator.requests).toHaveLength(0);
        const since = client.frames.length;
        client.send({ type: 'history' });
        const history = await client.next(
          (f) => f.type === 'history' || f.type === 'error',
          5_000,
          since,
        );
        expect(history.type === 'error' || (history.messages as unknown[]).length === 0).toBe(true);
      },
      { emulator },
    );
  });

  it("runs a user's LangGraph graph with a prebuilt ToolNode: the model's tool ids, paired, invariants kept", async () => {
    emulator.reset();
    emulator.enqueue(
      {
        blocks: [
          { text: 'Let me look.' },
          {
            toolUse: {
              toolUseId: 'tu_time',
              name: 'current_time',
              input: { timezone: 'Asia/Tokyo' },
            },
          },
          { toolUse: { toolUseId: 'tu_calc', name: 'calculator', input: { expression: '6*7' } } },
          { toolUse: { toolUseId: 'tu_bad', name: 'calculator', input: { formula: 42 } } },
          { toolUse: { toolUseId: 'tu_none', name: 'teleport', input: {} } },
        ],
      },
      { blocks: [{ text: 'It is late in Tokyo, and 6*7 is 42.' }] },
    );
    await withGateway(
      { AGENTS_FILE: agentsFile, TOOL_MODULES: TICKETS },
      async (gw) => {
        const client = await gw.connect();
        const frames = await client.chat('time in Tokyo and 6*7?', { agent: 'react' });
        checkTurn(frames);
        await checkStored(client, frames);
        expect(frames[0]).toMatchObject({ agent: 'react' });
        const starts = frames.filter((f) => f.type === 'tool-start');
        const ends = frames.filter((f) => f.type === 'tool-end');
        expect(starts.map((f) => f.toolCallId).sort()).toEqual([
          'tu_bad',
          'tu_calc',
          'tu_none',
          'tu_time',
        ]);
        expect(starts.find((f) => f.toolCallId === 'tu_time')).toMatchObject({
          name: 'current_time',
          input: { timezone: 'Asia/Tokyo' },
        });
        const end = (id: string) => ends.find((f) => f.toolCallId === id)!;
        expect(end('tu_time')).toMatchObject({
          isError: false,
          output: expect.stringMatching(/\+09:00$/),
        });
        expect(end('tu_calc')).toMatchObject({ isError: false, output: '42' });
        expect(end('tu_bad')).toMatchObject({
          isError: true,
          output: expect.stringContaining('expression'),
        });
        expect(end('tu_none')).toMatchObject({
          isError: true,
          output: expect.stringContaining('teleport'),
        });
        // Each call's tool-start comes before its tool-end.
        for (const s of starts) {
          expect(frames.indexOf(s)).toBeLessThan(frames.indexOf(end(s.toolCallId as string)));
        }
        expect(frames.at(-1)).toMatchObject({
          stopReason: 'end_turn',
          text: 'Let me look.It is late in Tokyo, and 6*7 is 42.',
        });
        // The model got every result, under its own ids.
        const results = (emulator.requests[1]?.body?.messages ?? [])
          .flatMap((m) => m.content ?? [])
          .flatMap((b) => (b.toolResult ? [b.toolResult.toolUseId] : []));
        expect(results.sort()).toEqual(['tu_bad', 'tu_calc', 'tu_none', 'tu_time']);
      },
      { emulator },
    );
  });

  it('starts with the example agents file and tool module, as docs/agents.md says', async () => {
    await withGateway(
      { AGENTS_FILE: 'examples/agents.yaml', TOOL_MODULES: TICKETS },
      async (gw) => {
        const client = await gw.connect();
        expect((client.ready.agents as { id: string }[]).map((a) => a.id)).toEqual([
          'assistant',
          'support',
          'react',
        ]);
      },
      { emulator },
    );
  });

  it.each([
    ['the own loop', 'inner'],
    ["a user's graph", 'inner_graph'],
  ])(
    'bounds tools by TOOL_TIMEOUT_MS and keeps what runs inside a tool out of the turn, in %s',
    async (_name, agent) => {
      const file = path.join(dir, `inner-${agent}.yaml`);
      await writeFile(
        file,
        `agents:
  - id: inner
    description: Tools with insides.
    tools: [ask_inner_model, wait_forever]
    skills: []
  - id: inner_graph
    description: The same tools in a graph.
    graph: ${path.relative(dir, EXAMPLE_GRAPH)}#createGraph
    tools: [ask_inner_model, wait_forever]
`,
      );
      emulator.reset();
      emulator.enqueue(
        {
          blocks: [
            { toolUse: { toolUseId: 'tu_inner', name: 'ask_inner_model', input: {} } },
            { toolUse: { toolUseId: 'tu_wait', name: 'wait_forever', input: {} } },
          ],
        },
        { blocks: [{ text: 'Done with the tools.' }] },
      );
      await withGateway(
        {
          AGENTS_FILE: file,
          TOOL_MODULES: 'test/fixtures/tools/inner-workings.ts',
          TOOL_TIMEOUT_MS: '300',
        },
        async (gw) => {
          const client = await gw.connect();
          const started = Date.now();
          const frames = await client.chat('use both', { agent });
          expect(Date.now() - started).toBeLessThan(5_000);
          checkTurn(frames);
          await checkStored(client, frames);
          const end = (id: string) =>
            frames.find((f) => f.type === 'tool-end' && f.toolCallId === id);
          expect(end('tu_inner')).toMatchObject({
            isError: false,
            output: 'the inner model said 16 characters',
          });
          expect(end('tu_wait')).toMatchObject({
            isError: true,
            output: expect.stringContaining('timed out after 300 ms'),
          });
          expect(JSON.stringify(frames)).not.toContain('INNER MODEL TEXT');
          expect(frames.at(-1)).toMatchObject({
            stopReason: 'end_turn',
            text: 'Done with the tools.',
          });
        },
        { emulator },
      );
    },
  );

  it('offers an agent only its own skills: load_skill knows no other', async () => {
    const skillsDir = path.join(dir, 'skills');
    await cp('skills/sql', path.join(skillsDir, 'sql'), { recursive: true });
    await mkdir(path.join(skillsDir, 'notes'), { recursive: true });
    await writeFile(
      path.join(skillsDir, 'notes', 'SKILL.md'),
      '---\nname: notes\ndescription: How to keep notes.\n---\nKeep them short.\n',
    );
    const file = path.join(dir, 'limited.yaml');
    await writeFile(
      file,
      'agents:\n  - id: limited\n    description: Notes only.\n    tools: []\n    skills: [notes]\n',
    );
    emulator.reset();
    emulator.enqueue(
      {
        blocks: [{ toolUse: { toolUseId: 'tu_sql', name: 'load_skill', input: { name: 'sql' } } }],
      },
      {
        blocks: [
          { toolUse: { toolUseId: 'tu_notes', name: 'load_skill', input: { name: 'notes' } } },
        ],
      },
      { blocks: [{ text: 'Only notes here.' }] },
    );
    await withGateway(
      { AGENTS_FILE: file, SKILLS_DIR: skillsDir },
      async (gw) => {
        const client = await gw.connect();
        const frames = await client.chat('load what you can');
        checkTurn(frames);
        const end = (id: string) =>
          frames.find((f) => f.type === 'tool-end' && f.toolCallId === id);
        expect(end('tu_sql')).toMatchObject({
          isError: true,
          output: expect.stringContaining('Known skills: notes.'),
        });
        expect(end('tu_notes')).toMatchObject({
          isError: false,
          output: expect.stringContaining('Keep them short.'),
        });
        expect(offered(0)).toEqual(['load_skill']);
        expect(offered(2)).toEqual(['load_skill']);
        expect(systemOf(0)).toContain('notes');
        expect(systemOf(0)).not.toMatch(/\bsql\b/);
      },
      { emulator },
    );
  });

  it('ends a tool call cut short by cancel with its tool-end (invariant 3), stored as such', async () => {
    const file = path.join(dir, 'cancel.yaml');
    await writeFile(
      file,
      'agents:\n  - id: waiting\n    description: Waits.\n    tools: [wait_forever]\n    skills: []\n',
    );
    emulator.reset();
    emulator.enqueue({
      blocks: [
        { text: 'Waiting.' },
        { toolUse: { toolUseId: 'tu_wait', name: 'wait_forever', input: {} } },
      ],
    });
    await withGateway(
      { AGENTS_FILE: file, TOOL_MODULES: 'test/fixtures/tools/inner-workings.ts' },
      async (gw) => {
        const client = await gw.connect();
        const turn = client.chat('wait');
        const start = await client.next((f) => f.type === 'tool-start');
        client.send({ type: 'cancel', conversationId: start.conversationId });
        const frames = await turn;
        checkTurn(frames);
        await checkStored(client, frames);
        expect(frames.find((f) => f.type === 'tool-end')).toMatchObject({
          toolCallId: 'tu_wait',
          isError: true,
          output: expect.stringContaining('cancelled while this tool ran'),
        });
        expect(frames.at(-1)).toMatchObject({ stopReason: 'cancelled', text: 'Waiting.' });
        // The next turn works: the model gets the cut-short call answered.
        emulator.enqueue({ blocks: [{ text: 'Back.' }] });
        checkTurn(await client.chat('again?'));
      },
      { emulator },
    );
  });
});
