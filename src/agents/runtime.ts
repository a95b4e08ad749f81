import { pathToFileURL } from 'node:url';
import type { BaseMessage } from '@langchain/core/messages';
import type { StructuredToolInterface } from '@langchain/core/tools';
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { ChatModels } from '../agent/chat-models.ts';
import { createAgentGraph } from '../agent/graph.ts';
import type { TurnAgent } from '../agent/runner.ts';
import type { Approvals } from '../approvals/approvals.ts';
import { type Config, ConfigError } from '../config/config.ts';
import type { ApprovalMetrics } from '../metrics.ts';
import { createLoadSkillTool, LOAD_SKILL, loadedSkills } from '../skills/load-skill.ts';
import { skillsPrompt } from '../skills/skills.ts';
import { requiresApproval } from '../tools/plugin.ts';
import { throughToolRunner } from '../tools/run-tool.ts';
import type { AgentDefinition } from './agents-file.ts';
import type { AgentCatalog } from './catalog.ts';
import type { GraphFactory } from './graph-module.ts';
import { isKnownTool, type ToolSources } from './tool-sources.ts';

export interface RuntimeDeps {
  readonly config: Config;
  readonly models: ChatModels;
  readonly sources: ToolSources;
  readonly approvals: Approvals;
  readonly log: Logger;
  readonly metrics?: ApprovalMetrics;
  readonly tracer?: Tracer;
}

/**
 * Builds every agent of the catalog: its tools, skills and MCP servers checked against
 * what this process has, its graph made (the own loop) or loaded (`graph:`). Problems stop
 * start-up together, each naming the agent and the field.
 */
export async function createRunnableAgents(
  catalog: AgentCatalog,
  deps: RuntimeDeps,
): Promise<Map<string, TurnAgent>> {
  const problems: string[] = [];
  const agents = new Map<string, TurnAgent>();
  // A misspelt name here would leave the tool it meant unguarded: refused, not ignored.
  for (const name of deps.config.approval.requiredTools) {
    if (!isKnownTool(deps.sources, name)) {
      problems.push(`APPROVAL_REQUIRED_TOOLS names "${name}", which no tool source provides`);
    }
  }
  for (const definition of catalog.definitions) {
    const problem = (field: string, message: string) =>
      problems.push(`${catalog.where(definition, field)}: ${message}`);
    const tools = agentTools(definition, deps.sources, problem);
    const approve = new Set(definition.approve ?? []);
    for (const name of approve) {
      if (!isKnownTool(deps.sources, name)) problem('approve', `no tool is named "${name}"`);
    }
    const needed = (tool: StructuredToolInterface) =>
      approve.has(tool.name) ||
      deps.config.approval.requiredTools.has(tool.name) ||
      requiresApproval(tool);
    const recursionLimit = (definition.maxSteps ?? deps.config.agent.maxSteps) * 2 + 2;
    const graph =
      definition.graphModule === undefined
        ? ownLoop(definition, tools, needed, deps, problem)
        : await userGraph(
            definition,
            withoutApproval(definition, tools, needed, deps.log, problem).map((tool) =>
              throughToolRunner(tool, deps.config.tools.timeoutMs),
            ),
            deps,
            problem,
          );
    if (graph) agents.set(definition.id, { id: definition.id, graph, recursionLimit });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return agents;
}

/** The tools an agent is always offered: what it lists, else every tool no skill brings. */
function agentTools(
  definition: AgentDefinition,
  sources: ToolSources,
  problem: (field: string, message: string) => void,
): StructuredToolInterface[] {
  const servers = sources.mcp?.status() ?? {};
  for (const server of definition.mcpServers ?? []) {
    if (!(server in servers)) problem('mcpServers', `no MCP server is named "${server}"`);
  }
  const fromServers = (names: readonly string[]) =>
    sources.mcp?.tools(names.filter((name) => name in servers)) ?? [];
  if (definition.tools !== undefined) {
    const listed = definition.tools.flatMap((name) => {
      if (!isKnownTool(sources, name)) problem('tools', `no tool is named "${name}"`);
      // A tool of an MCP server that did not start is left out: the agent works without it.
      return sources.tools.get(name)?.tool ?? [];
    });
    return unique([...listed, ...fromServers(definition.mcpServers ?? [])]);
  }
  const ofServers = new Set(fromServers(Object.keys(servers)).map((t) => t.name));
  const own = [...sources.tools.values()]
    .map(({ tool }) => tool)
    .filter(
      (tool) =>
        !ofServers.has(tool.name) && !sources.skillTools.has(tool.name) && tool.name !== LOAD_SKILL,
    );
  return unique([...own, ...fromServers(definition.mcpServers ?? Object.keys(servers))]);
}

/** The gateway's own tool-calling loop, with the agent's skills disclosed as they load. */
function ownLoop(
  definition: AgentDefinition,
  tools: StructuredToolInterface[],
  needed: (tool: StructuredToolInterface) => boolean,
  deps: RuntimeDeps,
  problem: (field: string, message: string) => void,
) {
  const { sources, config } = deps;
  const skills = (definition.skills ?? sources.skills.map((s) => s.name)).flatMap((name) => {
    const skill = sources.skills.find((s) => s.name === name);
    if (!skill) problem('skills', `no skill is named "${name}" in SKILLS_DIR`);
    return skill ? [skill] : [];
  });
  // Its own load_skill: it knows (and loads) only this agent's skills.
  const always = skills.length > 0 ? unique([...tools, createLoadSkillTool(skills)]) : tools;
  const byName = (name: string) => sources.tools.get(name)?.tool;
  const toolsFor = (messages: readonly BaseMessage[]) => {
    const loaded = loadedSkills(messages);
    const disclosed = skills
      .filter((s) => loaded.has(s.name))
      .flatMap((s) => s.tools.flatMap((name) => byName(name) ?? []));
    return disclosed.length > 0 ? unique([...always, ...disclosed]) : always;
  };
  const prompt = definition.systemPrompt ?? config.agent.systemPrompt;
  return createAgentGraph({
    models: deps.models,
    toolsFor,
    systemPrompt: skills.length > 0 ? `${prompt}\n\n${skillsPrompt(skills)}` : prompt,
    maxSteps: definition.maxSteps ?? config.agent.maxSteps,
    maxContextTokens: config.agent.maxContextTokens,
    toolTimeoutMs: config.tools.timeoutMs,
    approval: {
      approvals: deps.approvals,
      needed,
      timeoutMs: config.approval.timeoutMs,
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
    },
    ...(deps.tracer ? { tracer: deps.tracer } : {}),
  });
}

/** A user's compiled graph, or what their factory makes with the agent's model and tools. */
async function userGraph(
  definition: AgentDefinition,
  tools: StructuredToolInterface[],
  deps: RuntimeDeps,
  problem: (field: string, message: string) => void,
): Promise<TurnAgent['graph'] | undefined> {
  const { path, exportName } = definition.graphModule!;
  let exported: unknown;
  try {
    const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    exported = module[exportName];
  } catch (error) {
    problem('graph', `${path} does not load: ${(error as Error).message}`);
    return undefined;
  }
  try {
    const model = deps.models.find(definition.model) ?? deps.models.default;
    const graph =
      typeof exported === 'function'
        ? await (exported as GraphFactory)({ model: deps.models.chatModel(model), tools })
        : exported;
    if (isGraph(graph)) return graph;
    problem(
      'graph',
      `${path} export "${exportName}" is ${exported === undefined ? 'missing' : 'not a compiled graph'} (export a compiled LangGraph graph, or a function that returns one)`,
    );
  } catch (error) {
    problem('graph', `${path} export "${exportName}" failed: ${(error as Error).message}`);
  }
  return undefined;
}

/**
 * A user's graph runs its tools itself, where no approval can be asked for: a tool that
 * needs one is refused when listed, and left out of the tools it gets by default.
 */
function withoutApproval(
  definition: AgentDefinition,
  tools: StructuredToolInterface[],
  needed: (tool: StructuredToolInterface) => boolean,
  log: Logger,
  problem: (field: string, message: string) => void,
): StructuredToolInterface[] {
  const needing = tools.filter(needed);
  for (const tool of needing) {
    if (definition.tools?.includes(tool.name)) {
      problem('tools', `"${tool.name}" needs approval, which a graph agent cannot ask for`);
    } else {
      log.warn(
        { agent: definition.id, tool: tool.name },
        'tool needs approval: not given to the graph',
      );
    }
  }
  return tools.filter((tool) => !needed(tool));
}

function isGraph(value: unknown): value is TurnAgent['graph'] {
  return typeof (value as { invoke?: unknown } | null)?.invoke === 'function';
}

function unique(tools: readonly StructuredToolInterface[]): StructuredToolInterface[] {
  return [...new Map(tools.map((t) => [t.name, t])).values()];
}
