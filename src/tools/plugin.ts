import type { StructuredToolInterface } from '@langchain/core/tools';

/**
 * The interface for authors of tool modules (TOOL_MODULES, docs/tools.md). A module is a
 * `.ts`, `.js` or `.mjs` file whose default export is a `ToolModuleExport`:
 *
 * ```ts
 * import { tool } from '@langchain/core/tools';
 * import { z } from 'zod';
 * import type { ToolModuleExport } from '<path to agentgate>/src/tools/plugin.ts';
 *
 * export default [
 *   tool(async ({ id }) => `ticket ${id} is open`, {
 *     name: 'lookup_ticket',
 *     description: 'Looks a support ticket up by its id.',
 *     schema: z.object({ id: z.string() }),
 *   }),
 * ] satisfies ToolModuleExport;
 * ```
 *
 * A module imports only types from here (`import type`): it needs nothing of agentgate at
 * run time. The two functions at the end are agentgate's own readers of the metadata.
 */

/** The tools a module offers: LangChain tools, made with `tool()` from `@langchain/core/tools`. */
export type AgentgateTools = readonly StructuredToolInterface[];

/**
 * What a tool module default-exports: its tools, or a function (sync or async) that returns
 * them, called once at start-up (to read a file, open a client, …). A function that throws
 * stops start-up like a module that does not load.
 */
export type ToolModuleExport = AgentgateTools | (() => AgentgateTools | Promise<AgentgateTools>);

/**
 * What agentgate reads in a tool's `metadata` (give it in `tool(fn, { …, metadata })`, and
 * check it with `satisfies AgentgateToolMetadata`). Other keys are left alone.
 */
export interface AgentgateToolMetadata {
  /**
   * `true`: each call needs a person's approval before it runs (for tools that change
   * things: close a ticket, send a mail). Anything but `true` means no approval.
   */
  requiresApproval?: boolean;
  /**
   * How long one call may run, in milliseconds (a whole number, 1–3600000), instead of
   * TOOL_TIMEOUT_MS. Past it the model gets an error result and the turn goes on.
   */
  timeoutMs?: number;
}

/** Whether each call of `tool` waits for a person's approval (`metadata.requiresApproval`). */
export function requiresApproval(tool: StructuredToolInterface): boolean {
  return agentgateMetadata(tool).requiresApproval === true;
}

/** The agentgate part of a tool's metadata, as given (modules.ts checks it at start-up). */
export function agentgateMetadata(tool: StructuredToolInterface): AgentgateToolMetadata {
  const metadata: unknown = (tool as { metadata?: unknown }).metadata;
  return metadata !== null && typeof metadata === 'object' ? metadata : {};
}
