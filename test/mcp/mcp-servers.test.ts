import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { McpServerConfig } from '../../src/mcp/mcp-config.ts';
import { McpServers } from '../../src/mcp/mcp-servers.ts';
import { repoRoot } from '../helpers/docs.ts';

const SERVER = path.join(repoRoot, 'test/fixtures/mcp/server.ts');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'agentgate-mcp-'));

/** The fixture over stdio, as a config entry. */
function fixture(env: Record<string, string> = {}): McpServerConfig {
  return { type: 'stdio', command: process.execPath, args: ['--import', 'tsx', SERVER], env };
}

/** A TCP port that was free a moment ago: connections to it are refused. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A node one-liner as a stdio server. */
function script(code: string, ...args: string[]): McpServerConfig {
  return { type: 'stdio', command: process.execPath, args: ['-e', code, ...args], env: {} };
}

/** A logger whose lines the test reads. */
function logger(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The tool named `name` among `servers`' tools; fails when it is not there. */
function tool(servers: McpServers, name: string) {
  const found = servers.tools().find((t) => t.name === name);
  if (!found) throw new Error(`no tool ${name}`);
  return found;
}

/** Starts the fixture over streamable HTTP on `port` (0: a free one); resolves with it and its URL. */
async function httpFixture(port = '0'): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, '--http', port], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /MCP_URL (\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`HTTP fixture exited with ${code}`)));
  });
  return { child, url };
}

function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill();
  });
}

describe('McpServers over stdio and streamable HTTP', () => {
  let http: { child: ChildProcess; url: string };
  let servers: McpServers;
  const { log, lines } = logger();

  beforeAll(async () => {
    http = await httpFixture();
    servers = await McpServers.start(
      {
        mcpServers: {
          fixture: fixture({ FROM_FILE: 'set in the file' }),
          remote: { type: 'http', url: http.url, headers: {} },
        },
      },
      log,
    );
  });
  afterAll(async () => {
    await servers?.close();
    await stopped(http.child);
  });

  it('lists each server tools as <server>__<tool>, in the file order', () => {
    expect(servers.tools().map((t) => t.name)).toEqual([
      'fixture__add',
      'fixture__echo',
      'fixture__env',
      'fixture__pid',
      'fixture__crash',
      'remote__add',
      'remote__echo',
      'remote__env',
      'remote__pid',
      'remote__crash',
    ]);
    expect(servers.tools(['remote']).map((t) => t.name)).toEqual([
      'remote__add',
      'remote__echo',
      'remote__env',
      'remote__pid',
      'remote__crash',
    ]);
    expect(servers.tools([])).toEqual([]);
    expect(() => servers.tools(['nope'])).toThrow(
      'Unknown MCP server "nope" (known: fixture, remote).',
    );
    expect(tool(servers, 'fixture__add').description).toBe('Adds two numbers.');
  });

  it('reports both ready, with their tool counts, and logs it', () => {
    expect(servers.status()).toEqual({
      fixture: { state: 'ready', tools: 5 },
      remote: { state: 'ready', tools: 5 },
    });
    const ready = lines.filter((l) => l.msg === 'MCP server ready').map((l) => l.mcpServer);
    expect(ready.sort()).toEqual(['fixture', 'remote']);
  });

  it('calls a stdio tool', async () => {
    expect(await tool(servers, 'fixture__add').invoke({ a: 2, b: 40 })).toBe('42');
    expect(await tool(servers, 'fixture__echo').invoke({ text: 'héllo' })).toBe('héllo');
  });

  it('calls a streamable HTTP tool', async () => {
    expect(await tool(servers, 'remote__add').invoke({ a: 1.5, b: -3 })).toBe('-1.5');
  });

  it('enforces the tool schema before calling, with the validator words', async () => {
    const add = tool(servers, 'fixture__add');
    await expect(add.invoke({ a: 1, b: 'two' })).rejects.toThrow(
      /did not match expected schema\nDetails: .*properties\/b.*/s,
    );
    await expect(add.invoke({ a: 1 })).rejects.toThrow(
      /did not match expected schema\nDetails: .*b/s,
    );
    await expect(tool(servers, 'remote__add').invoke({ a: 'x', b: 1 })).rejects.toThrow(
      /Details: .*properties\/a/s,
    );
  });

  it('gives a stdio server its env over a minimal environment, nothing else', async () => {
    process.env.AGENTGATE_TEST_SECRET = 'gateway secret';
    const env = tool(servers, 'fixture__env');
    expect(await env.invoke({ name: 'FROM_FILE' })).toBe('set in the file');
    expect(await env.invoke({ name: 'PATH' })).toBe(process.env.PATH);
    // Set before start-up in this process, but never handed to the server.
    expect(await env.invoke({ name: 'AWS_EC2_METADATA_DISABLED' })).toBe('(unset)');
    expect(await env.invoke({ name: 'AGENTGATE_TEST_SECRET' })).toBe('(unset)');
  });
});

describe('McpServers failures', () => {
  it('records a missing command, a process that exits at once and a refused URL; the others serve', async () => {
    const { log, lines } = logger();
    const refusing = `http://127.0.0.1:${await closedPort()}/mcp`;
    const servers = await McpServers.start(
      {
        mcpServers: {
          missing: { type: 'stdio', command: 'agentgate-no-such-command', args: [], env: {} },
          exits: script('console.error("boom: NO_API_KEY is not set"); process.exit(3)'),
          refused: { type: 'http', url: refusing, headers: {} },
          fixture: fixture(),
        },
      },
      log,
    );
    try {
      const status = servers.status();
      expect(status.missing).toEqual({
        state: 'failed',
        tools: 0,
        error: expect.stringMatching(
          /^failed to start: command "agentgate-no-such-command" not found/,
        ),
      });
      expect(status.exits).toEqual({
        state: 'failed',
        tools: 0,
        error:
          'failed to start: the server process exited before it answered (stderr: boom: NO_API_KEY is not set)',
      });
      expect(status.refused).toEqual({
        state: 'failed',
        tools: 0,
        error: expect.stringMatching(/^failed to start: .*ECONNREFUSED/),
      });
      expect(status.fixture).toEqual({ state: 'ready', tools: 5 });
      expect(servers.tools().map((t) => t.name)).toContain('fixture__add');
      expect(servers.tools(['missing', 'exits', 'refused'])).toEqual([]);
      expect(await tool(servers, 'fixture__add').invoke({ a: 1, b: 1 })).toBe('2');

      const failed = lines.filter((l) => l.msg === 'MCP server failed');
      expect(failed.map((l) => [l.mcpServer, l.level]).sort()).toEqual([
        ['exits', 50],
        ['missing', 50],
        ['refused', 50],
      ]);
      expect(failed.find((l) => l.mcpServer === 'missing')?.error).toBe(status.missing?.error);
    } finally {
      await servers.close();
    }
  });

  it('fails a server that never answers within the bound, and ends its process', async () => {
    const pidFile = path.join(tmp, 'silent.pid');
    const { log } = logger();
    const began = Date.now();
    const servers = await McpServers.start(
      {
        mcpServers: {
          silent: script(
            'require("fs").writeFileSync(process.argv[1], String(process.pid)); setInterval(() => {}, 1000)',
            pidFile,
          ),
          fixture: fixture(),
        },
      },
      log,
      { connectTimeoutMs: 2000 },
    );
    const elapsed = Date.now() - began;
    try {
      expect(elapsed).toBeGreaterThanOrEqual(2000);
      // The bound, plus the SDK's end of the process (stdin closed, then SIGTERM after 2 s).
      expect(elapsed).toBeLessThan(7000);
      expect(servers.status().silent).toEqual({
        state: 'failed',
        tools: 0,
        error: 'failed to start: no answer within 2000 ms (initialize and tools/list)',
      });
      expect(servers.status().fixture?.state).toBe('ready');
      expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    } finally {
      await servers.close();
    }
  });

  it('fails the call of a server that dies in it, clearly, and says so in status', async () => {
    const { log, lines } = logger();
    const servers = await McpServers.start(
      { mcpServers: { fixture: fixture(), other: fixture() } },
      log,
    );
    try {
      await expect(tool(servers, 'fixture__crash').invoke({})).rejects.toThrow(
        /^MCP server "fixture" stopped: the server process exited \(stderr: fixture: crashing on purpose\), during the call of fixture__crash\.$/,
      );
      expect(servers.status().fixture).toEqual({
        state: 'failed',
        tools: 5,
        error: 'stopped: the server process exited (stderr: fixture: crashing on purpose)',
      });
      // Its next call fails at once, without a server.
      await expect(tool(servers, 'fixture__add').invoke({ a: 1, b: 2 })).rejects.toThrow(
        'MCP server "fixture" stopped: the server process exited (stderr: fixture: crashing on purpose); fixture__add was not called.',
      );
      expect(servers.status().other).toEqual({ state: 'ready', tools: 5 });
      expect(await tool(servers, 'other__add').invoke({ a: 1, b: 2 })).toBe('3');
      expect(lines.find((l) => l.msg === 'MCP server stopped')).toMatchObject({
        mcpServer: 'fixture',
        level: 50,
      });
    } finally {
      await servers.close();
    }
  });

  it('fails the call of an HTTP server that dies in it, reports it, and sees it come back', async () => {
    const { log } = logger();
    let http = await httpFixture();
    const servers = await McpServers.start(
      { mcpServers: { remote: { type: 'http', url: http.url, headers: {} } } },
      log,
    );
    try {
      await expect(tool(servers, 'remote__crash').invoke({})).rejects.toThrow(
        /^MCP server "remote" unreachable: fetch failed: .+, during the call of remote__crash\.$/,
      );
      expect(servers.status().remote).toEqual({
        state: 'failed',
        tools: 5,
        error: expect.stringMatching(/^unreachable: fetch failed: /),
      });
      await expect(tool(servers, 'remote__add').invoke({ a: 1, b: 2 })).rejects.toThrow(
        /^MCP server "remote" unreachable: fetch failed: connect ECONNREFUSED .*, during the call of remote__add\.$/,
      );
      // An HTTP server may come back (here on the same port): its calls are still tried.
      http = await httpFixture(new URL(http.url).port);
      expect(await tool(servers, 'remote__add').invoke({ a: 1, b: 2 })).toBe('3');
      expect(servers.status().remote).toEqual({ state: 'ready', tools: 5 });
    } finally {
      await servers.close();
      await stopped(http.child);
    }
  });
});

describe('McpServers.close', () => {
  it('ends every stdio process, is idempotent, and refuses calls after it', async () => {
    const { log } = logger();
    const servers = await McpServers.start({ mcpServers: { one: fixture(), two: fixture() } }, log);
    const pids = await Promise.all(
      ['one__pid', 'two__pid'].map(async (name) => Number(await tool(servers, name).invoke({}))),
    );
    expect(pids.every(alive)).toBe(true);
    await Promise.all([servers.close(), servers.close()]);
    await servers.close();
    expect(pids.some(alive)).toBe(false);
    expect(servers.status()).toEqual({
      one: { state: 'closed', tools: 5 },
      two: { state: 'closed', tools: 5 },
    });
    await expect(tool(servers, 'one__add').invoke({ a: 1, b: 2 })).rejects.toThrow(
      'MCP servers are closed; one__add was not called.',
    );
  });
});
