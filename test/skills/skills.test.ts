import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { loadSkills, skillsPrompt } from '../../src/skills/skills.ts';
import { repoRoot } from '../helpers/docs.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skills-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function skill(name: string, text: string): string {
  mkdirSync(path.join(dir, name), { recursive: true });
  const file = path.join(dir, name, 'SKILL.md');
  writeFileSync(file, text);
  return file;
}

/** The one problem of the ConfigError that loading `dir` throws. */
async function problem(): Promise<string> {
  const error = await loadSkills(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  const problems = (error as ConfigError).problems;
  expect(problems).toHaveLength(1);
  return problems[0]!;
}

describe('loadSkills', () => {
  it('loads the bundled sql skill with its tools', async () => {
    const skills = await loadSkills(path.join(repoRoot, 'skills'));
    expect(skills.map((s) => s.name)).toEqual(['sql']);
    expect(skills[0]).toMatchObject({
      name: 'sql',
      dir: path.join(repoRoot, 'skills', 'sql'),
      tools: ['list_tables', 'describe_table', 'sql_query'],
    });
    expect(skills[0]?.description).toMatch(/coffee roaster/);
  });

  it('finds the bundled folder under its default name from the repo root', async () => {
    const cwd = process.cwd();
    process.chdir(repoRoot);
    try {
      expect((await loadSkills('skills')).map((s) => s.name)).toEqual(['sql']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('gives no skills when the default folder is missing', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(await loadSkills('skills')).toEqual([]);
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a configured folder that does not exist, or is a file', async () => {
    const missing = path.join(dir, 'nope');
    await expect(loadSkills(missing)).rejects.toThrow(/SKILLS_DIR=.*nope.* cannot be read/);
    writeFileSync(path.join(dir, 'file'), 'x');
    await expect(loadSkills(path.join(dir, 'file'))).rejects.toThrow(/is not a folder/);
  });

  it('loads several skills sorted by name, skipping plain files and hidden folders', async () => {
    skill('beta', '---\nname: beta\ndescription: B things\n---\nDo B.\n');
    skill('alpha', '---\nname: alpha\ndescription: A things\nlicense: MIT\n---\nDo A.\n');
    skill('.hidden', 'not a skill');
    writeFileSync(path.join(dir, 'README.md'), '# skills');
    const skills = await loadSkills(dir);
    expect(skills.map((s) => [s.name, s.description, s.tools])).toEqual([
      ['alpha', 'A things', []],
      ['beta', 'B things', []],
    ]);
  });

  it.each([
    ['no front matter', '# Title\n', /demo\/SKILL\.md:1: a SKILL\.md starts with a front matter/],
    [
      'an unclosed front matter',
      '---\nname: demo\ndescription: x\n',
      /demo\/SKILL\.md:1: the front matter opened here is never closed/,
    ],
    [
      'invalid YAML',
      '---\nname: demo\ndescription: [unclosed\n---\nBody\n',
      /demo\/SKILL\.md:\d+: the front matter is not valid YAML/,
    ],
    [
      'an unquoted ": " in a value',
      '---\nname: demo\ndescription: shop data: orders\n---\nBody\n',
      /demo\/SKILL\.md:3: the front matter is not valid YAML: Nested mappings are not allowed in compact mappings$/,
    ],
    [
      'a duplicate key',
      '---\nname: demo\nname: demo\ndescription: x\n---\nBody\n',
      /demo\/SKILL\.md:3: the front matter is not valid YAML: Map keys must be unique/,
    ],
    [
      'a list instead of fields',
      '---\n- a\n- b\n---\nBody\n',
      /demo\/SKILL\.md:2: the front matter must be YAML fields/,
    ],
    [
      'no name',
      '---\ndescription: x\n---\nBody\n',
      /demo\/SKILL\.md:1: the front matter has no "name" field/,
    ],
    [
      'no description',
      '---\nname: demo\n---\nBody\n',
      /demo\/SKILL\.md:1: the front matter has no "description" field/,
    ],
    [
      'an empty description',
      '---\nname: demo\ndescription: "  "\n---\nBody\n',
      /demo\/SKILL\.md:3: field "description": expected a description is required/,
    ],
    [
      'a bad name',
      '---\ndescription: x\nname: Demo Skill\n---\nBody\n',
      /demo\/SKILL\.md:3: field "name": expected 1–64 of a–z, 0–9 and -/,
    ],
    [
      'a name that is not the folder’s',
      '---\nname: other\ndescription: x\n---\nBody\n',
      /demo\/SKILL\.md:2: field "name": "other" must be the name of its folder, "demo"/,
    ],
    [
      'tools that are not a list',
      '---\nname: demo\ndescription: x\ntools: sql_query\n---\nBody\n',
      /demo\/SKILL\.md:4: field "tools": expected a list of tool names/,
    ],
    [
      'a bad tool name',
      '---\nname: demo\ndescription: x\ntools: [ok, "not ok"]\n---\nBody\n',
      /demo\/SKILL\.md:4: field "tools": expected tool names are 1–64 of/,
    ],
    [
      'no instructions',
      '---\nname: demo\ndescription: x\n---\n\n',
      /demo\/SKILL\.md:5: the skill has no instructions after its front matter/,
    ],
  ])('refuses a SKILL.md with %s, naming file and line', async (_case, text, expected) => {
    skill('demo', text);
    expect(await problem()).toMatch(expected);
  });

  it('refuses a skill folder without SKILL.md', async () => {
    mkdirSync(path.join(dir, 'empty'));
    expect(await problem()).toMatch(/empty: a skill folder needs a SKILL\.md/);
  });

  it('reports every bad skill at once', async () => {
    skill('one', '# no front matter\n');
    skill('two', '---\nname: two\n---\nBody\n');
    const error = await loadSkills(dir).catch((e: unknown) => e);
    expect((error as ConfigError).problems).toHaveLength(2);
    expect((error as ConfigError).message).toMatch(/one\/SKILL\.md:1[\s\S]*two\/SKILL\.md:1/);
  });
});

describe('skillsPrompt', () => {
  it('lists names and descriptions and says how to load a skill', async () => {
    const skills = await loadSkills(path.join(repoRoot, 'skills'));
    const prompt = skillsPrompt(skills);
    expect(prompt).toContain(`- sql: ${skills[0]?.description}`);
    expect(prompt).toMatch(/call load_skill with its name/);
    expect(prompt).not.toContain('sql_query {query}');
  });

  it('is empty without skills', () => {
    expect(skillsPrompt([])).toBe('');
  });
});
