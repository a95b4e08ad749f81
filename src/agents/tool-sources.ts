import type { StructuredToolInterface } from '@langchain/core/tools';
import type { Logger } from 'pino';
import { BUILTIN_TOOLS } from '../agent/tools/index.ts';
import { type Config, ConfigError } from '../config/config.ts';
import { readMcpConfig } from '../mcp/mcp-config.ts';
import { McpServers } from '../mcp/mcp-servers.ts';
import { createLoadSkillTool } from '../skills/load-skill.ts';
import { loadSkills, type Skill } from '../skills/skills.ts';
import { createSqlTools, SQL_TOOL_NAMES } from '../skills/sql/index.ts';
import { loadToolModules, moduleSource } from '../tools/modules.ts';
import { assembleTools, type ToolSource } from '../tools/toolbox.ts';

/** The tools of the bundled SQL skill: made only when a skill names one of them. */
const SQL_TOOLS: ReadonlySet<string> = new Set(SQL_TOOL_NAMES);

/** Every tool and skill this process has, from wherever it came, with unique names. */
export interface ToolSources {
  readonly tools: ReadonlyMap<
    string,
    { readonly tool: StructuredToolInterface; readonly source: string }
  >;
  readonly skills: readonly Skill[];
  /** Names of the tools that come with a skill: offered once the skill is loaded. */
  readonly skillTools: ReadonlySet<string>;
  /** The MCP servers of MCP_CONFIG_FILE; undefined without one. */
  readonly mcp: McpServers | undefined;
  close(): Promise<void>;
}

/**
 * Whether configuration may name this tool: it exists, or it would be a tool of a configured
 * MCP server that did not start (the rest works without that server).
 */
export function isKnownTool(sources: ToolSources, name: string): boolean {
  if (sources.tools.has(name)) return true;
  const at = name.indexOf('__');
  const server = sources.mcp?.status()[name.slice(0, at)];
  return at > 0 && server !== undefined && server.state !== 'ready';
}

/**
 * Gathers the built-in tools, TOOL_MODULES, the skills of SKILLS_DIR (with `load_skill`
 * and the SQL skill's tools) and the MCP servers of MCP_CONFIG_FILE. A problem with any of
 * them stops start-up (ConfigError); an MCP server that does not start does not.
 */
export async function loadToolSources(config: Config, log: Logger): Promise<ToolSources> {
  const sources: ToolSource[] = [{ source: 'built-in', tools: BUILTIN_TOOLS }];
  for (const { module, tools } of await loadToolModules(config.tools.modules)) {
    sources.push({ source: moduleSource(module), tools });
  }
  const skills = await loadSkills(config.skills.dir);
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    await Promise.allSettled(closers.map((c) => c()));
  };
  try {
    if (skills.some((s) => s.tools.some((t) => SQL_TOOLS.has(t)))) {
      const sql = createSqlTools({
        url: config.skills.sqlDatabaseUrl,
        maxRows: config.skills.sqlMaxRows,
        timeoutMs: config.skills.sqlTimeoutMs,
        log: log.child({ component: 'sql' }),
      });
      closers.push(() => sql.close());
      sources.push({ source: 'the SQL skill', tools: sql.tools });
    }
    // Reserves the name (a clash stops start-up); each agent gets its own, over its skills.
    if (skills.length > 0) sources.push({ source: 'skills', tools: [createLoadSkillTool(skills)] });
    let mcp: McpServers | undefined;
    if (config.mcp.configFile !== undefined) {
      const servers = await readMcpConfig(config.mcp.configFile);
      mcp = await McpServers.start(servers, log.child({ component: 'mcp' }));
      closers.push(() => (mcp as McpServers).close());
      for (const server of Object.keys(mcp.status())) {
        sources.push({ source: `MCP server ${server}`, tools: mcp.tools([server]) });
      }
    }
    const tools = assembleTools(sources);
    const skillTools = new Set(skills.flatMap((s) => s.tools));
    const missing = skills.flatMap((s) =>
      s.tools
        .filter((t) => !tools.has(t))
        .map(
          (t) => `skill "${s.name}" (${s.dir}) names tool "${t}", which no tool source provides`,
        ),
    );
    if (missing.length > 0) throw new ConfigError(missing);
    return { tools, skills, skillTools, mcp, close };
  } catch (error) {
    await close();
    throw error;
  }
}
