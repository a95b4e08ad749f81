import type { StructuredToolInterface } from '@langchain/core/tools';
import { DynamicStructuredTool } from '@langchain/core/tools';
import { loadMcpTools } from '@langchain/mcp-adapters';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { TOOL_NAME } from '../tools/toolbox.ts';
import { MCP_SERVER_NAME, type McpServerConfig, type McpServersConfig } from './mcp-config.ts';

/** How long a server may take to start, answer `initialize` and list its tools. */
export const MCP_CONNECT_TIMEOUT_MS = 10_000;

/** Lines of a stdio server's stderr kept to explain its failure. */
const STDERR_LINES = 5;

export type McpServerState = 'ready' | 'failed' | 'closed';

export interface McpServerStatus {
  readonly state: McpServerState;
  /** Tools the server offers (0 when it never started). */
  readonly tools: number;
  /** Why it failed: at start-up, or when it stopped later. */
  readonly error?: string;
}

export interface McpServersOptions {
  /** Bound of one server's start-up; MCP_CONNECT_TIMEOUT_MS by default. */
  readonly connectTimeoutMs?: number;
}

/**
 * The MCP servers of an MCP_CONFIG_FILE, connected and turned into LangChain tools named
 * `<server>__<tool>` (by @langchain/mcp-adapters' loadMcpTools).
 *
 * Each server has its own MCP client and transport and starts on its own, all at once:
 * one that fails or never answers is recorded in `status()` and its child process ended,
 * and the others serve. (The adapter's MultiServerMCPClient is not used: it connects
 * servers one after another, with no bound, and keeps a transport only once it has
 * connected, so a server that never answers could be neither bounded nor ended.)
 */
export class McpServers {
  readonly #servers: readonly McpServerConnection[];
  #closing: Promise<void> | undefined;

  private constructor(servers: readonly McpServerConnection[]) {
    this.#servers = servers;
  }

  /**
   * Starts every server and waits for each to be ready or failed; never throws for a
   * server's failure, and returns within the connect bound (plus the time to end a
   * failed server's process, at most ~4 s).
   */
  static async start(
    config: McpServersConfig,
    log: Logger,
    options: McpServersOptions = {},
  ): Promise<McpServers> {
    const timeoutMs = options.connectTimeoutMs ?? MCP_CONNECT_TIMEOUT_MS;
    const servers = Object.entries(config.mcpServers).map(([name, server]) => {
      if (!MCP_SERVER_NAME.test(name) || name.includes('__')) {
        throw new Error(`Invalid MCP server name "${name}" (1–64 of A–Z a–z 0–9 _ -, no "__").`);
      }
      return new McpServerConnection(name, server, log.child({ mcpServer: name }));
    });
    await Promise.all(servers.map((server) => server.connect(timeoutMs)));
    return new McpServers(servers);
  }

  /**
   * The tools of every server that started (of the named servers only, when given), in
   * the file's order. A server that stops later keeps its tools listed: calling one then
   * throws an Error that says the server stopped. An unknown name throws.
   */
  tools(serverNames?: readonly string[]): StructuredToolInterface[] {
    const byName = new Map(this.#servers.map((server) => [server.name, server]));
    for (const name of serverNames ?? []) {
      if (!byName.has(name)) {
        throw new Error(`Unknown MCP server "${name}" (known: ${[...byName.keys()].join(', ')}).`);
      }
    }
    const wanted = serverNames ? new Set(serverNames) : undefined;
    return this.#servers
      .filter((server) => wanted === undefined || wanted.has(server.name))
      .flatMap((server) => server.tools);
  }

  /** Each server's state, for `/ready`'s details and the logs. */
  status(): Record<string, McpServerStatus> {
    return Object.fromEntries(this.#servers.map((server) => [server.name, server.status()]));
  }

  /** Ends every connection; stdio servers' processes are gone when it resolves. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= Promise.all(this.#servers.map((server) => server.close())).then(() => {});
    return this.#closing;
  }
}

/** One server: its client, its state and its tools. */
class McpServerConnection {
  readonly name: string;
  tools: StructuredToolInterface[] = [];
  readonly #config: McpServerConfig;
  readonly #log: Logger;
  readonly #client = new Client({ name: 'agentgate', version: '1' });
  #state: McpServerState | 'starting' = 'starting';
  #error: string | undefined;
  #closing = false;
  /** The last lines of a stdio server's stderr. */
  readonly #stderr: string[] = [];
  /** The last transport error (an HTTP request that failed), seen by the client. */
  #transportError: Error | undefined;

  constructor(name: string, config: McpServerConfig, log: Logger) {
    this.name = name;
    this.#config = config;
    this.#log = log;
  }

  status(): McpServerStatus {
    const state = this.#state === 'starting' ? 'failed' : this.#state;
    return {
      state,
      tools: this.tools.length,
      ...(this.#error === undefined ? {} : { error: this.#error }),
    };
  }

  async connect(timeoutMs: number): Promise<void> {
    const transport = this.#transport();
    this.#client.onclose = () => this.#stopped();
    this.#client.onerror = (error) => {
      this.#transportError = error;
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${timeoutMs} ms (initialize and tools/list)`)),
        timeoutMs,
      );
    });
    const work = (async () => {
      await this.#client.connect(transport);
      return loadMcpTools(this.name, this.#client, {
        prefixToolNameWithServerName: true,
        throwOnLoadError: true,
      });
    })();
    work.catch(() => {}); // it loses the race on a timeout; its rejection is not news then
    try {
      const loaded = await Promise.race([work, timeout]);
      this.tools = loaded.flatMap((tool) => {
        // A `<server>__<tool>` name Bedrock refuses is left out (and logged): offered, it
        // would fail every model call of every turn.
        if (TOOL_NAME.test(tool.name)) return [this.#guard(tool)];
        this.#log.warn(
          { tool: tool.name },
          'MCP tool left out: its name is not 1–64 of A–Z a–z 0–9 _ -',
        );
        return [];
      });
      this.#state = 'ready';
      this.#log.info(
        { transport: this.#config.type, tools: this.tools.map((t) => t.name) },
        'MCP server ready',
      );
    } catch (error) {
      await this.#client.close().catch(() => {});
      // Let the last stderr lines of a process that exited arrive before they are quoted.
      await new Promise((resolve) => setImmediate(resolve));
      this.#state = 'failed';
      const exited =
        this.#config.type === 'stdio' &&
        error instanceof McpError &&
        error.code === ErrorCode.ConnectionClosed
          ? new Error('the server process exited before it answered')
          : error;
      this.#error = `failed to start: ${this.#explain(exited)}`;
      this.#log.error({ transport: this.#config.type, error: this.#error }, 'MCP server failed');
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#client.close().catch(() => {});
    this.#state = 'closed';
  }

  #transport(): Transport {
    const config = this.#config;
    if (config.type === 'http') {
      return new StreamableHTTPClientTransport(new URL(config.url), {
        requestInit: { headers: { ...config.headers } },
      });
    }
    // The SDK sets `env` over a minimal environment (HOME, LOGNAME, PATH, SHELL, TERM,
    // USER): none of the gateway's secrets reach a server unless the file names them.
    const transport = new StdioClientTransport({
      command: config.command,
      args: [...config.args],
      env: { ...config.env },
      stderr: 'pipe',
    });
    // Always read, or a chatty server would block on a full pipe.
    let partial = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.#stderrLine(line);
    });
    transport.stderr?.on('end', () => {
      if (partial !== '') this.#stderrLine(partial);
      partial = '';
    });
    return transport;
  }

  #stderrLine(line: string): void {
    const text = line.trimEnd();
    if (text === '') return;
    this.#log.debug({ stderr: text }, 'MCP server stderr');
    this.#stderr.push(text.slice(0, 300));
    if (this.#stderr.length > STDERR_LINES) this.#stderr.shift();
  }

  /** The connection closed: by close(), while starting (connect reports it), or by itself. */
  #stopped(): void {
    if (this.#closing || this.#state !== 'ready') return;
    this.#state = 'failed';
    this.#error = 'stopped: the server process exited';
    // The stderr pipe may still hold the process's last words: quote them once read.
    setImmediate(() => {
      this.#error = `stopped: ${this.#explain(new Error('the server process exited'))}`;
      this.#log.error({ error: this.#error }, 'MCP server stopped');
    });
  }

  /**
   * The adapter's tool, with errors that name the server: a call to a server that stopped
   * throws at once, and one that the server's death interrupted says so (instead of the
   * SDK's "Connection closed"). Input is validated against the server's JSON schema
   * before the call, with the validator's words in the error.
   */
  #guard(tool: DynamicStructuredTool): DynamicStructuredTool {
    const call = tool.func;
    return new DynamicStructuredTool({
      name: tool.name,
      description: tool.description,
      schema: tool.schema,
      responseFormat: tool.responseFormat,
      metadata: tool.metadata ?? {},
      verboseParsingErrors: true,
      func: async (input, runManager, config) => {
        this.#assertUsable(tool.name);
        const transportError = this.#transportError;
        try {
          const result = await call(input, runManager, config);
          if (this.#config.type === 'http' && this.#state === 'failed') this.#recovered();
          return result;
        } catch (error) {
          if (this.#closing) throw new Error(`MCP servers closed during the call of ${tool.name}.`);
          if (this.#config.type === 'stdio' && this.#state === 'failed') {
            await new Promise((resolve) => setImmediate(resolve));
            throw new Error(
              `MCP server "${this.name}" ${this.#error ?? 'stopped'}, during the call of ${tool.name}.`,
              { cause: error },
            );
          }
          if (this.#config.type === 'http' && this.#transportError !== transportError) {
            this.#unreachable(this.#transportError);
            throw new Error(
              `MCP server "${this.name}" ${this.#error}, during the call of ${tool.name}.`,
              { cause: error },
            );
          }
          throw error;
        }
      },
    });
  }

  #assertUsable(toolName: string): void {
    if (this.#closing) throw new Error(`MCP servers are closed; ${toolName} was not called.`);
    // An HTTP server may come back: its calls are tried whatever its last state.
    if (this.#config.type === 'stdio' && this.#state === 'failed') {
      throw new Error(`MCP server "${this.name}" ${this.#error}; ${toolName} was not called.`);
    }
  }

  /** An HTTP request failed below MCP (connection refused, reset, a 5xx): the server is down. */
  #unreachable(error: Error | undefined): void {
    this.#state = 'failed';
    this.#error = `unreachable: ${this.#explain(error)}`;
    this.#log.error({ error: this.#error }, 'MCP server unreachable');
  }

  #recovered(): void {
    this.#state = 'ready';
    this.#error = undefined;
    this.#log.info('MCP server reachable again');
  }

  /** Plain words for an error: its causes (fetch hides the network error there), stderr. */
  #explain(error: unknown): string {
    const parts: string[] = [];
    for (let e: unknown = error; e !== undefined && parts.length < 4; ) {
      if (e instanceof Error) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && this.#config.type === 'stdio') {
          parts.push(`command "${this.#config.command}" not found`);
        } else {
          parts.push(e.message);
        }
        e = e.cause;
      } else {
        parts.push(String(e));
        e = undefined;
      }
    }
    const text = parts.join(': ') || 'unknown error';
    return this.#stderr.length > 0 ? `${text} (stderr: ${this.#stderr.join(' | ')})` : text;
  }
}
