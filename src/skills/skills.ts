import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, DEFAULT_SKILLS_DIR } from '../config/config.ts';
import { TOOL_NAME } from '../tools/toolbox.ts';

/**
 * A skill in the Agent Skills layout: a folder with a `SKILL.md` (YAML front matter, then
 * instructions) and optional reference files. Only `name` and `description` reach the
 * system prompt; the rest is read when the model loads the skill.
 */
export interface Skill {
  readonly name: string;
  readonly description: string;
  /** The skill's folder, absolute. */
  readonly dir: string;
  /** Names of the tools the skill brings; offered once the skill is loaded. */
  readonly tools: readonly string[];
}

export const SKILL_FILE = 'SKILL.md';

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

// Unknown fields (license, metadata, allowed-tools… of the Agent Skills format) are allowed.
const FrontMatter = z.object({
  name: z
    .string({ error: 'a name is required' })
    .regex(NAME, { error: '1–64 of a–z, 0–9 and -, starting with a letter or digit' }),
  description: z
    .string({ error: 'a description is required' })
    .trim()
    .min(1, { error: 'a description is required' })
    .max(1024, { error: 'at most 1024 characters' }),
  tools: z
    .array(z.string().regex(TOOL_NAME, { error: 'tool names are 1–64 of A–Z a–z 0–9 _ -' }), {
      error: 'a list of tool names, such as [list_tables, sql_query]',
    })
    .optional(),
});

/**
 * The skills of `dir`, sorted by name. The default folder (`skills`) may be missing: no
 * skills then. Any other folder must exist; every problem (a bad front matter, a duplicate
 * name, a folder without SKILL.md) is reported at once in a ConfigError naming file and line.
 */
export async function loadSkills(dir: string): Promise<Skill[]> {
  let entries: string[];
  try {
    if (!(await stat(dir)).isDirectory()) {
      throw new ConfigError([`SKILLS_DIR=${JSON.stringify(dir)} is not a folder.`]);
    }
    entries = await readdir(dir);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && dir === DEFAULT_SKILLS_DIR) return [];
    throw new ConfigError([
      `SKILLS_DIR=${JSON.stringify(dir)} cannot be read: ${(error as Error).message}`,
    ]);
  }
  const problems: string[] = [];
  const skills: Skill[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith('.')) continue;
    const folder = path.join(dir, entry);
    // Plain files beside the skills (a README) are not skills; nor is a dangling link.
    const isFolder = await stat(folder).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isFolder) continue;
    const file = path.join(folder, SKILL_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      problems.push(`${folder}: a skill folder needs a ${SKILL_FILE} (none could be read).`);
      continue;
    }
    const parsed = parseSkillFile(file, text, entry);
    if (typeof parsed === 'string') {
      problems.push(parsed);
      continue;
    }
    skills.push({ ...parsed, dir: path.resolve(folder) });
  }
  const seen = new Set<string>();
  for (const skill of skills) {
    if (seen.has(skill.name)) problems.push(`Two skills are named "${skill.name}".`);
    seen.add(skill.name);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return skills;
}

/** The front matter and body of a SKILL.md, or the problem with it as `file:line: why`. */
export function parseSkillFile(
  file: string,
  text: string,
  folderName: string,
): { name: string; description: string; tools: string[]; body: string } | string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trim() !== '---') {
    return `${file}:1: a ${SKILL_FILE} starts with a front matter: a line "---", YAML with name and description, then "---".`;
  }
  const close = lines.findIndex((line, i) => i > 0 && line.trim() === '---');
  if (close < 0) return `${file}:1: the front matter opened here is never closed by a line "---".`;
  const yamlText = lines.slice(1, close).join('\n');
  // Lines of the YAML are lines of the file from the second on.
  const lineOf = (yamlLine: number) => yamlLine + 1;
  const counter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: counter, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = lineOf(yamlError.linePos?.[0].line ?? 1);
    // The parser's own "at line …" counts lines of the YAML, not of the file: left out.
    const why = yamlError.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '');
    return `${file}:${line}: the front matter is not valid YAML: ${why}`;
  }
  if (!isMap(doc.contents)) {
    return `${file}:2: the front matter must be YAML fields (name: …, description: …).`;
  }
  const result = FrontMatter.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    const pair = doc.contents.items.find((item) => isScalar(item.key) && item.key.value === field);
    const offset = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
    const line = offset === undefined ? 1 : lineOf(counter.linePos(offset).line);
    const missing = pair === undefined;
    return missing
      ? `${file}:${line}: the front matter has no "${field}" field (${issue.message}).`
      : `${file}:${line}: field "${field}": expected ${issue.message}.`;
  }
  const { name, description, tools = [] } = result.data;
  if (name !== folderName) {
    const nameLine = lines.findIndex((line, i) => i < close && /^name\s*:/.test(line)) + 1;
    return `${file}:${nameLine || 2}: field "name": "${name}" must be the name of its folder, "${folderName}".`;
  }
  const body = lines
    .slice(close + 1)
    .join('\n')
    .trim();
  if (body === '') {
    return `${file}:${close + 2}: the skill has no instructions after its front matter.`;
  }
  return { name, description, tools, body };
}

/**
 * The system prompt's part about skills: each name and description, and how to load one.
 * Empty when there are no skills.
 */
export function skillsPrompt(skills: readonly Skill[]): string {
  if (skills.length === 0) return '';
  return [
    'You have skills: instructions, reference files and tools for particular tasks. When a request matches a skill, first call load_skill with its name to read its instructions; its tools are available after that. load_skill with a file (such as reference/schema.md) reads one of its reference files.',
    'Skills:',
    ...skills.map((skill) => `- ${skill.name}: ${skill.description}`),
  ].join('\n');
}
