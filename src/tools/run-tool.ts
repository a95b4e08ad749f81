import type { RunnableConfig } from '@langchain/core/runnables';
import { tool as makeTool, type StructuredToolInterface } from '@langchain/core/tools';
import { Validator } from '@langchain/core/utils/json_schema';
import { interopSafeParseAsync, isInteropZodSchema } from '@langchain/core/utils/types';
import { MAX_TOOL_TIMEOUT_MS } from '../config/config.ts';
import { agentgateMetadata } from './plugin.ts';

/**
 * Tag of every tool run the gateway makes, inherited by what runs inside the tool (a model
 * it calls, a tool it calls): the turn's frames of a call come from the node that made it,
 * never from inside the tool (see the normalizer).
 */
export const GATEWAY_TOOL_RUN_TAG = 'agentgate:tool-run';

/** What one tool call gave: the text the model receives, and whether it is an error. */
export interface ToolRun {
  output: string;
  isError: boolean;
}

/** Whether a tool's `metadata.timeoutMs` is one the gateway takes: 1 ms to an hour. */
export function isToolTimeout(value: unknown): value is number {
  return Number.isInteger(value) && Number(value) >= 1 && Number(value) <= MAX_TOOL_TIMEOUT_MS;
}

/** The timeout of a call of `tool`: its `metadata.timeoutMs`, else `defaultMs` (TOOL_TIMEOUT_MS). */
export function toolTimeout(tool: StructuredToolInterface, defaultMs: number): number {
  const { timeoutMs } = agentgateMetadata(tool);
  return isToolTimeout(timeoutMs) ? timeoutMs : defaultMs;
}

/**
 * Runs one tool call for the model. Every way a call can fail (input that does not match
 * the tool's schema, a throw, no answer within `timeoutMs`) gives an error result whose
 * text the model reads, so the turn goes on and the model can try again or explain.
 *
 * The tool gets a signal that aborts when the turn is cancelled or the time is up; since a
 * tool may ignore it, the call is also raced against that signal, and a late answer is
 * dropped. A cancelled turn is never turned into a result: the abort is thrown on.
 */
export async function runTool(
  tool: StructuredToolInterface,
  input: Record<string, unknown>,
  options: { timeoutMs: number; config: RunnableConfig },
): Promise<ToolRun> {
  const turn = options.config.signal;
  let invalid: string | undefined;
  try {
    invalid = await validationProblem(tool, input);
  } catch (error) {
    invalid = `its schema cannot check it (${errorMessage(error)})`;
  }
  // Checked after validation, which may wait: a listener added to an aborted signal never runs.
  turn?.throwIfAborted();
  if (invalid) {
    return { output: `Error: invalid input for tool "${tool.name}": ${invalid}`, isError: true };
  }

  const timeout = new AbortController();
  const signal = turn ? AbortSignal.any([turn, timeout.signal]) : timeout.signal;
  let onAbort = () => {};
  const stopped = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const timer = setTimeout(() => timeout.abort(), options.timeoutMs);
  // Started inside a promise so that a tool that throws synchronously is a rejection too.
  // Without a `toolCall` (a ToolNode's config carries one) the tool answers its result,
  // not a ToolMessage: the caller makes the message.
  const { toolCall: _, ...config } = options.config as RunnableConfig & { toolCall?: unknown };
  const tags = [...(config.tags ?? []), GATEWAY_TOOL_RUN_TAG];
  const running = Promise.resolve().then(() => tool.invoke(input, { ...config, tags, signal }));
  // Whichever loses the race ends unobserved; its rejection is not an unhandled one.
  running.catch(() => {});
  stopped.catch(() => {});
  try {
    const result: unknown = await Promise.race([running, stopped]);
    return { output: stringify(result), isError: false };
  } catch (error) {
    if (turn?.aborted) throw error;
    if (timeout.signal.aborted) {
      return {
        output: `Error: Tool ${tool.name} timed out after ${options.timeoutMs} ms.`,
        isError: true,
      };
    }
    return {
      output: `Error: ${error instanceof Error ? error.message : String(error)}`,
      isError: true,
    };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * The same tool, run through {@link runTool}: what a user's graph is given, so that its
 * calls are checked and bounded as the gateway's own are. A failed call throws its error
 * text (a ToolNode turns that into the model's tool result).
 */
export function throughToolRunner(
  tool: StructuredToolInterface,
  defaultTimeoutMs: number,
): StructuredToolInterface {
  return makeTool(
    async (input: Record<string, unknown>, config: RunnableConfig) => {
      const run = await runTool(tool, input, {
        timeoutMs: toolTimeout(tool, defaultTimeoutMs),
        config,
      });
      if (run.isError) throw new Error(run.output.replace(/^Error: /, ''));
      return run.output;
    },
    {
      name: tool.name,
      description: tool.description,
      schema: tool.schema as Parameters<typeof makeTool>[1]['schema'],
    },
  );
}

/**
 * Why `input` does not match the tool's schema (a Zod schema, v3 or v4, or a JSON Schema
 * as MCP tools have), one clause per field; undefined when it matches.
 */
async function validationProblem(
  tool: StructuredToolInterface,
  input: Record<string, unknown>,
): Promise<string | undefined> {
  const schema: unknown = tool.schema;
  if (isInteropZodSchema(schema)) {
    const parsed = await interopSafeParseAsync(schema, input);
    if (parsed.success) return undefined;
    // A Zod v4 schema that throws (a refinement's own error) comes back as a failure too.
    if (!Array.isArray(parsed.error.issues)) throw parsed.error;
    return parsed.error.issues
      .map((issue) => `${issue.path.map(String).join('.') || 'the input'}: ${issue.message}`)
      .join('; ');
  }
  if (schema === null || typeof schema !== 'object') return undefined;
  const result = new Validator(schema as ConstructorParameters<typeof Validator>[0]).validate(
    input,
  );
  if (result.valid) return undefined;
  // The innermost errors say what is wrong; those above them only that something below is.
  const errors = result.errors.filter(
    (e) =>
      !result.errors.some(
        (o) => o !== e && o.instanceLocation.startsWith(`${e.instanceLocation}/`),
      ),
  );
  return [...new Set(errors.map((e) => `${field(e.instanceLocation)}: ${e.error}`))].join('; ');
}

/** `#/ticket/id` → `ticket.id`; the root is "the input". */
function field(instanceLocation: string): string {
  return instanceLocation.replace(/^#\/?/, '').replaceAll('/', '.') || 'the input';
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A tool's result as the text the model reads: strings as they are, the rest as JSON. */
function stringify(result: unknown): string {
  if (typeof result === 'string') return result;
  try {
    return JSON.stringify(result) ?? String(result);
  } catch {
    return String(result);
  }
}
