import type { StructuredToolInterface } from '@langchain/core/tools';
import { ConfigError } from '../config/config.ts';

/** Tools from one place, named for messages: 'built-in', 'module x.ts', 'skill sql', 'mcp server y'. */
export interface ToolSource {
  readonly source: string;
  readonly tools: readonly StructuredToolInterface[];
}

/** A tool of the toolbox and where it came from. */
export interface ToolboxEntry {
  readonly tool: StructuredToolInterface;
  readonly source: string;
}

/** Names Bedrock accepts in a toolSpec; a request with any other fails on every turn. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** Why `name` cannot name a tool, or undefined when it can. */
export function badToolName(name: unknown): string | undefined {
  if (typeof name === 'string' && TOOL_NAME.test(name)) return undefined;
  const shown = typeof name === 'string' ? JSON.stringify(name) : `of type ${typeof name}`;
  return `the tool name ${shown} is not valid: Bedrock takes 1–64 of A–Z a–z 0–9 _ -`;
}

/**
 * The tools offered to the model, by name, from every source (built-ins, modules, skills,
 * MCP servers). Names are what the model calls tools by, so each must be unique: a name
 * given twice, or one Bedrock would refuse, stops start-up here, every problem at once,
 * each naming its sources, rather than failing every turn later.
 */
export function assembleTools(sources: readonly ToolSource[]): Map<string, ToolboxEntry> {
  const problems: string[] = [];
  const toolbox = new Map<string, ToolboxEntry>();
  for (const { source, tools } of sources) {
    for (const tool of tools) {
      const bad = badToolName(tool.name);
      if (bad) {
        problems.push(`${source}: ${bad}.`);
        continue;
      }
      const taken = toolbox.get(tool.name);
      if (taken) {
        problems.push(
          taken.source === source
            ? `${source} gives two tools named "${tool.name}"; tool names must be unique.`
            : `the tool name "${tool.name}" is given by both ${taken.source} and ${source}; tool names must be unique (rename one).`,
        );
        continue;
      }
      toolbox.set(tool.name, { tool, source });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return toolbox;
}
