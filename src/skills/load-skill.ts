import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { type StructuredToolInterface, tool } from '@langchain/core/tools';
import { z } from 'zod';
import { parseSkillFile, SKILL_FILE, type Skill } from './skills.ts';

export const LOAD_SKILL = 'load_skill';

/** Largest reference file handed to the model, in bytes. */
const MAX_FILE_BYTES = 256 * 1024;
/** Reference files listed with a skill's instructions, at most. */
const MAX_LISTED_FILES = 50;

/**
 * The `load_skill` tool: a skill's instructions (the body of its SKILL.md) or one of its
 * reference files. Files are read at call time, so an edited skill is seen without a restart.
 * A file path must stay inside the skill's folder once every link is resolved.
 */
export function createLoadSkillTool(skills: readonly Skill[]): StructuredToolInterface {
  const byName = new Map(skills.map((skill) => [skill.name, skill]));
  return tool(
    async ({ name, file }) => {
      const skill = byName.get(name);
      if (!skill) {
        const known = [...byName.keys()];
        throw new Error(
          known.length === 0
            ? `Unknown skill "${name}": no skills are installed.`
            : `Unknown skill "${name}". Known skills: ${known.join(', ')}.`,
        );
      }
      return file === undefined ? instructions(skill) : referenceFile(skill, file);
    },
    {
      name: LOAD_SKILL,
      description:
        "Loads a skill: without file, its instructions (after which the skill's tools are available); with file, one of its reference files, such as reference/schema.md.",
      schema: z.object({
        name: z.string().min(1).max(64).describe('The skill name, as listed in the system prompt'),
        file: z
          .string()
          .min(1)
          .max(512)
          .optional()
          .describe('A reference file of the skill, relative to its folder'),
      }),
    },
  );
}

async function instructions(skill: Skill): Promise<string> {
  const file = path.join(skill.dir, SKILL_FILE);
  const parsed = parseSkillFile(file, await readFile(file, 'utf8'), path.basename(skill.dir));
  if (typeof parsed === 'string') throw new Error(`The skill "${skill.name}" is broken: ${parsed}`);
  const files = await referenceFiles(skill.dir);
  const parts = [parsed.body];
  if (skill.tools.length > 0) parts.push(`Tools now available: ${skill.tools.join(', ')}.`);
  if (files.length > 0) {
    parts.push(
      `Reference files (load_skill with name "${skill.name}" and file): ${files.join(', ')}.`,
    );
  }
  return parts.join('\n\n');
}

async function referenceFile(skill: Skill, file: string): Promise<string> {
  const refuse = (why: string): never => {
    throw new Error(
      `load_skill cannot read "${file}" of the skill "${skill.name}": ${why}. Give a path inside the skill's folder, such as reference/schema.md.`,
    );
  };
  if (path.isAbsolute(file) || path.win32.isAbsolute(file)) refuse('it is an absolute path');
  if (file.split(/[\\/]/).some((part) => part.startsWith('.') && part !== '.' && part !== '..')) {
    refuse('hidden files are not shared');
  }
  const root = await realpath(skill.dir);
  const wanted = path.resolve(root, file);
  if (!inside(root, wanted)) refuse('it is outside the skill');
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    const files = await referenceFiles(skill.dir);
    throw new Error(
      `The skill "${skill.name}" has no file "${file}". Its files: ${[SKILL_FILE, ...files].join(', ')}.`,
    );
  }
  // Checked again on the resolved path: a link inside the folder may point out of it.
  if (!inside(root, real)) refuse('it leads outside the skill');
  const info = await stat(real);
  if (!info.isFile()) refuse('it is not a file');
  if (info.size > MAX_FILE_BYTES) refuse(`it is larger than ${MAX_FILE_BYTES} bytes`);
  return readFile(real, 'utf8');
}

function inside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return (
    relative !== '' &&
    relative !== '..' &&
    !relative.startsWith(`..${path.sep}`) &&
    !path.isAbsolute(relative)
  );
}

/** The skill's files other than SKILL.md, relative to its folder, hidden ones left out. */
async function referenceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .filter((file) => file !== SKILL_FILE && !file.split(path.sep).some((p) => p.startsWith('.')))
    .map((file) => file.split(path.sep).join('/'))
    .sort()
    .slice(0, MAX_LISTED_FILES);
}

/**
 * Names of the skills loaded in a conversation: those a `load_skill` call named whose
 * result was not an error. Derived from the messages alone, so it holds across turns and
 * processes (a ToolMessage's `status` is kept by the history codec).
 */
export function loadedSkills(messages: readonly BaseMessage[]): Set<string> {
  const requested = new Map<string, string>();
  const loaded = new Set<string>();
  for (const message of messages) {
    if (AIMessage.isInstance(message)) {
      for (const call of message.tool_calls ?? []) {
        const name = (call.args as { name?: unknown } | undefined)?.name;
        if (call.name === LOAD_SKILL && call.id && typeof name === 'string') {
          requested.set(call.id, name);
        }
      }
    } else if (ToolMessage.isInstance(message) && message.status !== 'error') {
      const name = requested.get(message.tool_call_id);
      if (name !== undefined) loaded.add(name);
    }
  }
  return loaded;
}
