import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

const names = z.array(z.string().min(1).max(128)).max(256);

/**
 * One agent of an AGENTS_FILE. Either the gateway's own tool-calling loop (system prompt,
 * model, tools, skills, MCP servers, approvals, step limit) or `graph`, a user's compiled
 * LangGraph.js graph, which may still name the `model` and `tools` it is given and its step
 * limit.
 */
const AgentEntry = z
  .strictObject({
    id: z.string().regex(/^[A-Za-z0-9][\w-]{0,63}$/, {
      error: '1–64 of A–Z a–z 0–9 _ -, starting with a letter or digit',
    }),
    description: z.string().min(1).max(500),
    default: z.boolean().optional(),
    systemPrompt: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    tools: names.optional(),
    skills: names.optional(),
    mcpServers: names.optional(),
    approve: names.optional(),
    maxSteps: z.number().int().min(1).max(100).optional(),
    graph: z
      .string()
      .regex(/^[^#]+#[A-Za-z_$][\w$]*$/, {
        error: 'a module path and an export: <module>#<export>',
      })
      .optional(),
  })
  .superRefine((agent, ctx) => {
    if (agent.graph === undefined) return;
    for (const field of ['systemPrompt', 'skills', 'approve'] as const) {
      if (agent[field] !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message:
            'not for a graph agent (its graph decides); only model, tools and mcpServers are',
        });
      }
    }
  });

const AgentsFile = z.strictObject({ agents: z.array(AgentEntry).min(1) });

/** An agent as its file defines it; `graph` is resolved against the file's folder. */
export type AgentDefinition = z.infer<typeof AgentEntry> & {
  readonly graphModule?: { readonly path: string; readonly exportName: string };
};

export interface AgentsFileContents {
  readonly file: string;
  readonly agents: readonly AgentDefinition[];
  /** The id chats get when they name none. */
  readonly defaultId: string;
}

/**
 * Reads and checks an AGENTS_FILE. Every problem names the file, its line, the agent and
 * the field; they are reported together in one ConfigError.
 */
export async function readAgentsFile(file: string): Promise<AgentsFileContents> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`AGENTS_FILE ${file}: cannot be read (${(error as Error).message})`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (offset: number | undefined) =>
    offset === undefined ? '' : `:${lines.linePos(offset).line}`;
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => `AGENTS_FILE ${file}${at(e.pos[0])}: ${firstLine(e.message)}`),
    );
  }
  const parsed = AgentsFile.safeParse(doc.toJS());
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const node = nodeAt(doc.contents, issue.path);
        return `AGENTS_FILE ${file}${at(node?.range?.[0])}: ${describePath(doc.toJS(), issue.path)}: ${issue.message}`;
      }),
    );
  }
  const agents = parsed.data.agents;
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const agent of agents) {
    if (seen.has(agent.id))
      problems.push(`AGENTS_FILE ${file}: agent "${agent.id}" is defined twice`);
    seen.add(agent.id);
  }
  const defaults = agents.filter((a) => a.default === true);
  if (defaults.length > 1) {
    problems.push(
      `AGENTS_FILE ${file}: more than one agent has default: true (${defaults.map((a) => a.id).join(', ')})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const folder = path.dirname(path.resolve(file));
  return {
    file,
    defaultId: (defaults[0] ?? agents[0]!).id,
    agents: agents.map((agent) => {
      if (agent.graph === undefined) return agent;
      const hash = agent.graph.lastIndexOf('#');
      return {
        ...agent,
        graphModule: {
          path: path.resolve(folder, agent.graph.slice(0, hash)),
          exportName: agent.graph.slice(hash + 1),
        },
      };
    }),
  };
}

type YamlNode = { range?: [number, number, number] | null; get?: unknown };

/** The YAML node at a schema issue's path, for its line number. */
function nodeAt(root: unknown, at: readonly PropertyKey[]): YamlNode | undefined {
  let node = root as YamlNode | undefined;
  let found = node;
  for (const key of at) {
    if (!(isMap(node) || isSeq(node))) break;
    const next = node.get(key as never, true) as YamlNode | undefined;
    if (next === undefined) break;
    node = next;
    found = next;
  }
  return found;
}

/** `agent "support", field tools[2]` rather than a bare path. */
function describePath(data: unknown, at: readonly PropertyKey[]): string {
  if (at[0] !== 'agents' || typeof at[1] !== 'number') {
    return at.length > 0 ? `field ${at.join('.')}` : 'the file';
  }
  const entry = (data as { agents?: { id?: unknown }[] }).agents?.[at[1]];
  const who = typeof entry?.id === 'string' ? `agent "${entry.id}"` : `agent #${at[1] + 1}`;
  const rest = at.slice(2);
  if (rest.length === 0) return who;
  const field = rest.map((k, i) =>
    typeof k === 'number' ? `[${k}]` : i ? `.${String(k)}` : String(k),
  );
  return `${who}, field ${field.join('')}`;
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
