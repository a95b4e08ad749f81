import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isStructuredTool, type StructuredToolInterface } from '@langchain/core/tools';
import { ConfigError, MAX_TOOL_TIMEOUT_MS } from '../config/config.ts';
import { isToolTimeout } from './run-tool.ts';
import { badToolName } from './toolbox.ts';

/** The tools of one module of TOOL_MODULES, as named in it. */
export interface LoadedToolModule {
  module: string;
  tools: StructuredToolInterface[];
}

/** How a module's tools are named among the toolbox's sources ('module examples/x.ts'). */
export function moduleSource(module: string): string {
  return `module ${module}`;
}

/**
 * Loads the modules of TOOL_MODULES (paths relative to the working directory; `.ts` runs
 * under tsx, `.js` and `.mjs` too), in order. Each default-exports an array of LangChain
 * tools or a function, sync or async, returning one (src/tools/plugin.ts). Anything wrong
 * (no file, a syntax error, a throw while loading, another default export, an item that
 * is not a tool, a bad name or metadata) stops start-up: one ConfigError names every module
 * that failed and what is wrong with it, rather than a turn failing later.
 */
export async function loadToolModules(paths: readonly string[]): Promise<LoadedToolModule[]> {
  const problems: string[] = [];
  const loaded: LoadedToolModule[] = [];
  for (const module of paths) {
    const result = await loadOne(module);
    if (Array.isArray(result)) {
      loaded.push({ module, tools: result });
    } else {
      problems.push(...result.problems.map((p) => `TOOL_MODULES ${moduleSource(module)}: ${p}`));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return loaded;
}

async function loadOne(
  module: string,
): Promise<StructuredToolInterface[] | { problems: string[] }> {
  const file = path.resolve(process.cwd(), module);
  if (!existsSync(file)) {
    return { problems: [`there is no such file (looked for ${file})`] };
  }
  let namespace: { default?: unknown };
  try {
    namespace = await import(pathToFileURL(file).href);
  } catch (error) {
    return { problems: [`it does not load: ${oneLine(error)}`] };
  }
  let exported = namespace.default;
  if (typeof exported === 'function') {
    try {
      exported = await (exported as () => unknown)();
    } catch (error) {
      return { problems: [`its default export, a function, threw: ${oneLine(error)}`] };
    }
    if (!Array.isArray(exported)) {
      return {
        problems: [
          `its default export, a function, returned ${kind(exported)}, not an array of tools`,
        ],
      };
    }
  } else if (exported === undefined) {
    return {
      problems: [
        'it has no default export; export default an array of LangChain tools or a function returning one',
      ],
    };
  } else if (!Array.isArray(exported)) {
    return {
      problems: [
        `its default export is ${kind(exported)}; it must be an array of LangChain tools or a function returning one`,
      ],
    };
  }
  const problems = exported.flatMap((item: unknown, index) => toolProblems(item, index));
  return problems.length > 0 ? { problems } : (exported as StructuredToolInterface[]);
}

/** What is wrong with item `index` of a module's tools, each problem naming the item. */
function toolProblems(item: unknown, index: number): string[] {
  if (!isTool(item)) {
    return [
      `item ${index + 1} of its tools is ${kind(item)}, not a LangChain tool (make one with tool() from @langchain/core/tools)`,
    ];
  }
  const problems: string[] = [];
  const bad = badToolName(item.name);
  if (bad) problems.push(`item ${index + 1}: ${bad}`);
  const named = bad ? `item ${index + 1}` : `tool "${item.name}"`;
  const metadata: unknown = (item as { metadata?: unknown }).metadata;
  if (metadata === undefined) return problems;
  if (metadata === null || typeof metadata !== 'object') {
    return [...problems, `${named}: metadata must be an object`];
  }
  const { requiresApproval, timeoutMs } = metadata as Record<string, unknown>;
  if (requiresApproval !== undefined && typeof requiresApproval !== 'boolean') {
    problems.push(
      `${named}: metadata.requiresApproval must be true or false, not ${kind(requiresApproval)}`,
    );
  }
  if (timeoutMs !== undefined && !isToolTimeout(timeoutMs)) {
    problems.push(
      `${named}: metadata.timeoutMs must be a whole number of milliseconds, 1–${MAX_TOOL_TIMEOUT_MS}, not ${kind(timeoutMs)}`,
    );
  }
  return problems;
}

/** A LangChain structured tool: what `tool()` makes, or a StructuredTool subclass. */
function isTool(item: unknown): item is StructuredToolInterface {
  return (
    item !== null &&
    typeof item === 'object' &&
    isStructuredTool(item as StructuredToolInterface) &&
    typeof (item as StructuredToolInterface).invoke === 'function' &&
    'schema' in item
  );
}

/** A value in a few words for a message: `undefined`, `a string ("x")`, `an object`. */
function kind(value: unknown): string {
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${JSON.stringify(value.slice(0, 40))})`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return `a ${typeof value} (${String(value)})`;
}

/** An error's message on one line, cut to a size that fits a start-up message. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}
