import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../config/config.ts';

/**
 * A server's name: the prefix of its tools' names (`<server>__<tool>`). No `__` inside, so
 * a tool name splits back into one server and one tool, and two servers never clash.
 */
export const MCP_SERVER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** A server started as a child process, spoken to over its stdin and stdout. */
export interface McpStdioServerConfig {
  readonly type: 'stdio';
  readonly command: string;
  readonly args: readonly string[];
  /** Set over the minimal environment a server inherits (see docs/mcp.md). */
  readonly env: Readonly<Record<string, string>>;
}

/** A server reached over streamable HTTP. */
export interface McpHttpServerConfig {
  readonly type: 'http';
  readonly url: string;
  /** Sent with every request (for example Authorization); never logged. */
  readonly headers: Readonly<Record<string, string>>;
}

export type McpServerConfig = McpStdioServerConfig | McpHttpServerConfig;

/** The servers of an MCP_CONFIG_FILE, by name, in the file's order. */
export interface McpServersConfig {
  readonly mcpServers: Readonly<Record<string, McpServerConfig>>;
}

const strings = (what: string) =>
  z.record(z.string(), z.string({ error: 'a string' }), { error: `an object of ${what}` });

// `type` is optional: files written for other MCP clients often carry it; when present it
// must agree with the entry's shape.
const stdioSchema = z.strictObject({
  type: z.literal('stdio', { error: '"stdio" for a server with a command' }).optional(),
  command: z.string({ error: 'a command (a string)' }).min(1, { error: 'a non-empty command' }),
  args: z.array(z.string({ error: 'a string' }), { error: 'an array of strings' }).default([]),
  env: strings('environment variables (name: string value)').default({}),
});

const httpSchema = z.strictObject({
  type: z
    .enum(['http', 'streamable-http'], {
      error: '"http" or "streamable-http" for a server with a url (SSE is not supported)',
    })
    .optional(),
  url: z.string({ error: 'an http: or https: URL' }).refine(
    (v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: 'an http: or https: URL' },
  ),
  headers: strings('headers (name: string value)').default({}),
});

const fileSchema = z.strictObject(
  { mcpServers: z.record(z.string(), z.unknown(), { error: 'an object of servers by name' }) },
  { error: 'an object with "mcpServers"' },
);

/**
 * Reads and validates an MCP_CONFIG_FILE: `{"mcpServers": {name: {command, args?, env?} |
 * {url, headers?}}}`. Every problem (unreadable file, JSON syntax with its line, unknown
 * field, missing command or url, bad name) is reported at once in one ConfigError naming
 * the file and the field. Nothing is started.
 */
export async function readMcpConfig(file: string): Promise<McpServersConfig> {
  const where = `MCP_CONFIG_FILE ${file}`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([`${where}: cannot be read (${code ?? String(error)})`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${where}: ${describeSyntaxError(text, error)}`]);
  }

  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) throw new ConfigError(issues(where, [], json, parsed.error));

  const problems: string[] = [];
  const servers: Record<string, McpServerConfig> = {};
  for (const [name, entry] of Object.entries(parsed.data.mcpServers)) {
    const at = ['mcpServers', name];
    if (!MCP_SERVER_NAME.test(name) || name.includes('__')) {
      problems.push(
        `${where}: mcpServers.${name}: a server name is 1–64 of A–Z a–z 0–9 _ - without "__" (it prefixes its tools' names as <server>__<tool>)`,
      );
      continue;
    }
    const server = parseServer(entry);
    if (typeof server === 'string') problems.push(`${where}: ${path(at)}: ${server}`);
    else if (!server.success) problems.push(...issues(where, at, entry, server.error));
    else servers[name] = server.data;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { mcpServers: servers };
}

function parseServer(
  entry: unknown,
): string | { success: true; data: McpServerConfig } | { success: false; error: z.ZodError } {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return 'expected an object with "command" (a stdio server) or "url" (a streamable HTTP server)';
  }
  const hasCommand = 'command' in entry;
  const hasUrl = 'url' in entry;
  if (hasCommand && hasUrl) return 'has both "command" and "url"; a server has one of them';
  if (hasCommand) {
    const parsed = stdioSchema.safeParse(entry);
    return parsed.success
      ? { success: true, data: { ...parsed.data, type: 'stdio' } }
      : { success: false, error: parsed.error };
  }
  if (hasUrl) {
    const parsed = httpSchema.safeParse(entry);
    return parsed.success
      ? { success: true, data: { ...parsed.data, type: 'http' } }
      : { success: false, error: parsed.error };
  }
  return 'missing "command" (a stdio server) or "url" (a streamable HTTP server)';
}

/** One line per issue of `input`: the file, the field's path, what is expected there. */
function issues(where: string, at: readonly string[], input: unknown, error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const base = [...at, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${where}: ${path([...base, key])}: unknown field`);
    }
    const field = base.length > 0 ? path(base) : 'the file';
    const missing = issue.code === 'invalid_type' && valueAt(input, issue.path) === undefined;
    return [`${where}: ${field}: ${missing ? 'missing; expected' : 'expected'} ${issue.message}`];
  });
}

function valueAt(input: unknown, keys: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of keys) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function path(parts: readonly string[]): string {
  return parts.join('.');
}

/**
 * JSON.parse's message with the line and column of the error: Node 20 reports only a
 * character position ("… in JSON at position 42"), newer versions add the line.
 */
function describeSyntaxError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/\bline \d+/.test(message)) return `invalid JSON: ${message}`;
  const position = /at position (\d+)/.exec(message)?.[1];
  const offset = position === undefined ? text.length : Number(position);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before.at(-1)?.length ?? 0) + 1;
  return `invalid JSON at line ${line}, column ${column}: ${message}`;
}
