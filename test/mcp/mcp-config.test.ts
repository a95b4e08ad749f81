import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.ts';
import { readMcpConfig } from '../../src/mcp/mcp-config.ts';
import { repoRoot } from '../helpers/docs.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentgate-mcp-config-'));
let count = 0;

/** Writes `text` to a new file and returns its path. */
function file(text: string): string {
  count += 1;
  const name = path.join(dir, `mcp-${count}.json`);
  writeFileSync(name, text);
  return name;
}

/** The ConfigError that reading `name` throws; fails the test if it reads fine. */
async function configError(name: string): Promise<ConfigError> {
  try {
    await readMcpConfig(name);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`readMcpConfig accepted ${name}`);
}

/** The one problem a file's ConfigError reports, checked to name the file. */
async function problem(text: string): Promise<string> {
  const name = file(text);
  const error = await configError(name);
  expect(error.problems).toHaveLength(1);
  const [only] = error.problems;
  expect(only).toContain(`MCP_CONFIG_FILE ${name}: `);
  expect(error.message).toContain(name);
  return only ?? '';
}

describe('readMcpConfig', () => {
  it('reads both transports, with defaults for args, env and headers, in the file order', async () => {
    const config = await readMcpConfig(
      file(
        JSON.stringify({
          mcpServers: {
            files: { command: 'npx', args: ['-y', 'some-server'], env: { TOKEN: 't' } },
            bare: { command: 'server' },
            remote: { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' } },
            typed: { type: 'streamable-http', url: 'http://127.0.0.1:9/mcp' },
            'typed-stdio': { type: 'stdio', command: 'x' },
          },
        }),
      ),
    );
    expect(config).toEqual({
      mcpServers: {
        files: { type: 'stdio', command: 'npx', args: ['-y', 'some-server'], env: { TOKEN: 't' } },
        bare: { type: 'stdio', command: 'server', args: [], env: {} },
        remote: {
          type: 'http',
          url: 'https://mcp.example.com/mcp',
          headers: { Authorization: 'Bearer x' },
        },
        typed: { type: 'http', url: 'http://127.0.0.1:9/mcp', headers: {} },
        'typed-stdio': { type: 'stdio', command: 'x', args: [], env: {} },
      },
    });
    expect(Object.keys(config.mcpServers)).toEqual([
      'files',
      'bare',
      'remote',
      'typed',
      'typed-stdio',
    ]);
  });

  it('reads examples/mcp.json', async () => {
    const config = await readMcpConfig(path.join(repoRoot, 'examples/mcp.json'));
    expect(Object.keys(config.mcpServers)).toEqual(['fixture', 'files', 'remote']);
    expect(config.mcpServers.remote?.type).toBe('http');
  });

  it('accepts no servers', async () => {
    expect(await readMcpConfig(file('{"mcpServers": {}}'))).toEqual({ mcpServers: {} });
  });

  it('names the line and column of a JSON syntax error', async () => {
    const text = '{\n  "mcpServers": {\n    "a": {"command": "x",}\n  }\n}\n';
    expect(await problem(text)).toMatch(/invalid JSON at line 3, column 2[0-9]: /);
  });

  it('names the end of a truncated file', async () => {
    expect(await problem('{"mcpServers": {\n')).toMatch(/invalid JSON at line 2, column 1: /);
  });

  it('refuses a file that cannot be read', async () => {
    const missing = path.join(dir, 'absent.json');
    const error = await configError(missing);
    expect(error.problems).toEqual([`MCP_CONFIG_FILE ${missing}: cannot be read (ENOENT)`]);
  });

  it('refuses another top-level shape', async () => {
    expect(await problem('[]')).toMatch(/: the file: expected an object with "mcpServers"$/);
    expect(await problem('{}')).toMatch(
      /: mcpServers: missing; expected an object of servers by name$/,
    );
    expect(await problem('{"mcpServers": []}')).toMatch(
      /: mcpServers: expected an object of servers by name$/,
    );
    expect(await problem('{"mcpServers": {}, "servers": {}}')).toMatch(/: servers: unknown field$/);
  });

  it('refuses an unknown field of a server', async () => {
    expect(await problem('{"mcpServers": {"a": {"command": "x", "cwd": "/"}}}')).toMatch(
      /: mcpServers\.a\.cwd: unknown field$/,
    );
    expect(await problem('{"mcpServers": {"a": {"url": "http://h/mcp", "env": {}}}}')).toMatch(
      /: mcpServers\.a\.env: unknown field$/,
    );
  });

  it('refuses a server without command or url, or with both', async () => {
    expect(await problem('{"mcpServers": {"a": {"args": ["x"]}}}')).toMatch(
      /: mcpServers\.a: missing "command" \(a stdio server\) or "url" \(a streamable HTTP server\)$/,
    );
    expect(await problem('{"mcpServers": {"a": "npx server"}}')).toMatch(
      /: mcpServers\.a: expected an object with "command"/,
    );
    expect(await problem('{"mcpServers": {"a": {"command": "x", "url": "http://h"}}}')).toMatch(
      /: mcpServers\.a: has both "command" and "url"/,
    );
  });

  it('refuses fields of the wrong type, naming each', async () => {
    expect(await problem('{"mcpServers": {"a": {"command": ""}}}')).toMatch(
      /: mcpServers\.a\.command: expected a non-empty command$/,
    );
    expect(await problem('{"mcpServers": {"a": {"command": 3}}}')).toMatch(
      /: mcpServers\.a\.command: expected a command \(a string\)$/,
    );
    expect(await problem('{"mcpServers": {"a": {"command": "x", "args": ["y", 2]}}}')).toMatch(
      /: mcpServers\.a\.args\.1: expected a string$/,
    );
    expect(await problem('{"mcpServers": {"a": {"command": "x", "env": {"K": 1}}}}')).toMatch(
      /: mcpServers\.a\.env\.K: expected a string$/,
    );
    expect(await problem('{"mcpServers": {"a": {"url": "ftp://h/mcp"}}}')).toMatch(
      /: mcpServers\.a\.url: expected an http: or https: URL$/,
    );
    expect(await problem('{"mcpServers": {"a": {"url": "http://h", "headers": []}}}')).toMatch(
      /: mcpServers\.a\.headers: expected an object of headers/,
    );
    expect(await problem('{"mcpServers": {"a": {"type": "sse", "url": "http://h"}}}')).toMatch(
      /: mcpServers\.a\.type: expected "http" or "streamable-http" .*SSE is not supported/,
    );
    expect(await problem('{"mcpServers": {"a": {"type": "http", "command": "x"}}}')).toMatch(
      /: mcpServers\.a\.type: expected "stdio"/,
    );
  });

  it('refuses server names that cannot prefix tool names', async () => {
    for (const name of ['a__b', 'has space', 'dot.ted', '', 'x'.repeat(65)]) {
      const text = JSON.stringify({ mcpServers: { [name]: { command: 'x' } } });
      expect(await problem(text)).toContain(`: mcpServers.${name}: a server name is 1–64 of`);
    }
  });

  it('reports every problem of a file at once', async () => {
    const name = file(
      JSON.stringify({
        mcpServers: { a: { command: 'x', cwd: '/' }, b: { args: [] }, ok: { command: 'y' } },
      }),
    );
    const error = await configError(name);
    expect(error.problems).toHaveLength(2);
    expect(error.problems[0]).toMatch(/mcpServers\.a\.cwd: unknown field/);
    expect(error.problems[1]).toMatch(/mcpServers\.b: missing "command"/);
  });
});
