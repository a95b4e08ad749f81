import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolResultMessage } from '../../src/agent/normalizer.ts';
import { createLoadSkillTool, LOAD_SKILL, loadedSkills } from '../../src/skills/load-skill.ts';
import { loadSkills, type Skill } from '../../src/skills/skills.ts';
import type { HistoryStore } from '../../src/store/history-store.ts';
import { MemoryHistoryStore } from '../../src/store/memory-history-store.ts';
import { RedisHistoryStore } from '../../src/store/redis-history-store.ts';
import { repoRoot } from '../helpers/docs.ts';
import { adminRedis, deletePrefix, testConnections, testPrefix } from '../redis/fixture.ts';

let dir: string;
let outside: string;
let skills: Skill[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'load-skill-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'outside-'));
  writeFileSync(path.join(outside, 'secret.md'), 'SECRET');
  const demo = path.join(dir, 'demo');
  mkdirSync(path.join(demo, 'reference'), { recursive: true });
  writeFileSync(
    path.join(demo, 'SKILL.md'),
    '---\nname: demo\ndescription: A demo skill\ntools: [demo_tool]\n---\n\nStep one.\nStep two.\n',
  );
  writeFileSync(path.join(demo, 'reference', 'notes.md'), '# Notes\n');
  writeFileSync(path.join(demo, '.hidden'), 'hidden');
  // A link to a file outside, and a link to a folder outside.
  symlinkSync(path.join(outside, 'secret.md'), path.join(demo, 'reference', 'link.md'));
  symlinkSync(outside, path.join(demo, 'elsewhere'));
  skills = [...(await loadSkills(dir)), ...(await loadSkills(path.join(repoRoot, 'skills')))];
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('load_skill', () => {
  it('returns the instructions without front matter, the tools and the reference files', async () => {
    const result = await createLoadSkillTool(skills).invoke({ name: 'demo' });
    expect(result).toMatch(/^Step one\.\nStep two\./);
    expect(result).not.toContain('description:');
    expect(result).toContain('Tools now available: demo_tool.');
    expect(result).toContain('reference/notes.md');
    expect(result).not.toContain('.hidden');
  });

  it('returns a reference file of the bundled sql skill', async () => {
    const loadSkill = createLoadSkillTool(skills);
    expect(loadSkill.name).toBe(LOAD_SKILL);
    const text = await loadSkill.invoke({ name: 'sql', file: 'reference/schema.md' });
    expect(text).toBe(readFileSync(path.join(repoRoot, 'skills/sql/reference/schema.md'), 'utf8'));
    expect(await loadSkill.invoke({ name: 'sql' })).toMatch(
      /Tools now available: list_tables, describe_table, sql_query\./,
    );
  });

  it('reads files at call time', async () => {
    const file = path.join(dir, 'demo', 'reference', 'late.md');
    writeFileSync(file, 'written after start-up');
    expect(
      await createLoadSkillTool(skills).invoke({ name: 'demo', file: 'reference/late.md' }),
    ).toBe('written after start-up');
  });

  it('names the known skills when asked for an unknown one', async () => {
    await expect(createLoadSkillTool(skills).invoke({ name: 'nope' })).rejects.toThrow(
      'Unknown skill "nope". Known skills: demo, sql.',
    );
    await expect(createLoadSkillTool([]).invoke({ name: 'sql' })).rejects.toThrow(
      'Unknown skill "sql": no skills are installed.',
    );
  });

  it('lists the skill’s files when a reference file does not exist', async () => {
    await expect(
      createLoadSkillTool(skills).invoke({ name: 'demo', file: 'reference/none.md' }),
    ).rejects.toThrow(
      /has no file "reference\/none\.md"\. Its files: SKILL\.md, .*reference\/notes\.md/,
    );
  });

  it.each([
    ['../../etc/passwd', /it is outside the skill/],
    ['reference/../../demo/../../etc/passwd', /it is outside the skill/],
    ['/etc/passwd', /it is an absolute path/],
    ['reference/link.md', /it leads outside the skill/],
    ['elsewhere/secret.md', /it leads outside the skill/],
    ['reference', /it is not a file/],
    ['.env', /hidden files are not shared/],
    ['reference/.secret/key.md', /hidden files are not shared/],
  ])('refuses the path %s', async (file, why) => {
    const error = await createLoadSkillTool(skills)
      .invoke({ name: 'demo', file })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toContain(
      `load_skill cannot read "${file}" of the skill "demo"`,
    );
    expect((error as Error).message).not.toContain('SECRET');
  });
});

function loadCall(id: string, name: string, file?: string): AIMessage {
  return new AIMessage({
    content: 'Let me load it.',
    tool_calls: [{ id, name: LOAD_SKILL, args: file ? { name, file } : { name } }],
  });
}

function result(id: string, isError: boolean): ToolMessage {
  return toolResultMessage({
    toolCallId: id,
    name: LOAD_SKILL,
    output: isError ? 'Error: Unknown skill' : 'Step one.',
    isError,
  });
}

const HISTORY: BaseMessage[] = [
  new HumanMessage('hi'),
  loadCall('call_ok', 'sql'),
  result('call_ok', false),
  loadCall('call_bad', 'nope'),
  result('call_bad', true),
  loadCall('call_file', 'demo', 'reference/notes.md'),
  result('call_file', false),
  // A call whose result never came, and a result of another tool with a matching name arg.
  loadCall('call_lost', 'lost'),
  new AIMessage({
    content: '',
    tool_calls: [{ id: 'call_other', name: 'calculator', args: { name: 'other' } }],
  }),
  new ToolMessage({ content: '4', tool_call_id: 'call_other', status: 'success' }),
];

describe('loadedSkills', () => {
  it('names the skills whose load_skill call succeeded', () => {
    expect([...loadedSkills(HISTORY)].sort()).toEqual(['demo', 'sql']);
    expect(loadedSkills([new HumanMessage('hi')]).size).toBe(0);
  });

  async function roundTrip(store: HistoryStore): Promise<BaseMessage[]> {
    const id = `conv-${Math.random().toString(36).slice(2)}`;
    const at = new Date().toISOString();
    await store.create({ id, owner: 'ada', model: 'm', title: 't', createdAt: at, updatedAt: at });
    // Two turns, as two commits: the skill holds across turns.
    await store.commitTurn(id, 'turn-1', HISTORY.slice(0, 5), new Date());
    await store.commitTurn(id, 'turn-2', HISTORY.slice(5), new Date());
    return (await store.messages(id)).map((m) => m.message);
  }

  /** A history store of each kind, and what releases it. */
  const stores: [string, () => Promise<{ store: HistoryStore; release(): Promise<void> }>][] = [
    [
      'memory',
      async () => {
        const store = new MemoryHistoryStore({ ttlSeconds: 60 });
        return { store, release: () => store.close() };
      },
    ],
    [
      'Redis',
      async () => {
        const prefix = testPrefix();
        const connections = await testConnections();
        const store = new RedisHistoryStore({ redis: connections.command, ttlSeconds: 60, prefix });
        return {
          store,
          release: async () => {
            await store.close();
            await connections.close();
            const admin = adminRedis();
            await deletePrefix(admin, prefix);
            admin.disconnect();
          },
        };
      },
    ],
  ];

  it.each(stores)('holds after a round trip through the %s store', async (_kind, open) => {
    const { store, release } = await open();
    try {
      const messages = await roundTrip(store);
      expect((messages[4] as ToolMessage).status).toBe('error');
      expect((messages[2] as ToolMessage).status).toBe('success');
      expect([...loadedSkills(messages)].sort()).toEqual(['demo', 'sql']);
    } finally {
      await release();
    }
  });
});
