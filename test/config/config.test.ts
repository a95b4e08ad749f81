import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config/config.ts';
import { codeSpans, readDoc, repoRoot, tableRows } from '../helpers/docs.ts';

const SONNET = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
const HAIKU = 'anthropic.claude-3-5-haiku-20241022-v1:0';

/** The ConfigError that `loadConfig(env)` throws; fails the test if it does not throw one. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig defaults', () => {
  const config = loadConfig({});

  it('listens on 127.0.0.1:3000', () => {
    expect(config.port).toBe(3000);
    expect(config.host).toBe('127.0.0.1');
    expect(config.hostOverridden).toBeUndefined();
  });

  it('takes 32 turns at once from the Redis queue, or WORKER_CONCURRENCY', () => {
    expect(config.workerConcurrency).toBe(32);
    expect(loadConfig({ WORKER_CONCURRENCY: '20' }).workerConcurrency).toBe(20);
    expect(configError({ WORKER_CONCURRENCY: '0' }).problems).toEqual([
      'WORKER_CONCURRENCY="0": expected a whole number 1–10000',
    ]);
  });

  it('offers Claude 3.5 Sonnet v2 first, then Claude 3.5 Haiku', () => {
    expect(config.bedrock.models.map((m) => m.id)).toEqual([SONNET, HAIKU]);
    expect(config.bedrock.models[0]).toEqual({
      id: SONNET,
      modelId: SONNET,
      region: 'us-east-1',
      kind: 'model-id',
      label: 'Claude 3.5 Sonnet v2',
    });
    expect(config.bedrock.models[1]?.label).toBe('Claude 3.5 Haiku');
  });

  it('uses us-east-1, three attempts and streaming for every model', () => {
    expect(config.bedrock.defaultRegion).toBe('us-east-1');
    expect(config.bedrock.maxAttempts).toBe(3);
    expect([...config.bedrock.nonStreamingModels]).toEqual([]);
    expect(config.bedrock.endpoint).toBeUndefined();
    expect(config.bedrock.profile).toBeUndefined();
    expect(config.bedrock.staticCredentials).toBeUndefined();
    expect(config.bedrock.imdsDisabled).toBe(false);
  });

  it('runs the worker in memory with a 24-hour session TTL and 8 agent steps', () => {
    expect(config.redisUrl).toBeUndefined();
    expect(config.runWorker).toBe(true);
    expect(config.sessionTtlSeconds).toBe(86_400);
    expect(config.agent.maxSteps).toBe(8);
  });

  it('serves a worker process’s metrics on port 9464', () => {
    expect(config.workerMetricsPort).toBe(9464);
  });

  it('has auth off and any origin allowed', () => {
    expect(config.auth.enabled).toBe(false);
    expect(config.auth.apiKeys.size).toBe(0);
    expect(config.auth.jwtSecret).toBeUndefined();
    expect(config.auth.jwtIssuer).toBeUndefined();
    expect(config.auth.jwtAudience).toBeUndefined();
    expect(config.allowedOrigins).toBeUndefined();
  });

  it('applies the limits of the design table', () => {
    expect(config.limits).toEqual({
      maxFrameBytes: 65_536,
      maxClientBufferBytes: 4_194_304,
      framesPerSecond: 20,
      frameBurst: 40,
      maxTurnsPerUser: 4,
      maxSocketsPerUser: 32,
    });
  });

  it('logs at info without stream events and exports no traces', () => {
    expect(config.log).toEqual({ level: 'info', streamEvents: false });
    expect(config.otelEndpoint).toBeUndefined();
  });

  it('loads no tool modules and gives a tool call 30 s', () => {
    expect(config.tools).toEqual({ modules: [], timeoutMs: 30_000 });
  });

  it('waits 600 s for an approval, and refuses a wait longer than a conversation lives', () => {
    expect(config.approval).toEqual({ requiredTools: new Set(), timeoutMs: 600_000 });
    expect(() => loadConfig({ APPROVAL_TIMEOUT_SECONDS: '7200', SESSION_TTL_HOURS: '1' })).toThrow(
      /APPROVAL_TIMEOUT_SECONDS=7200 is longer than SESSION_TTL_HOURS \(1 h\)/,
    );
  });

  it('starts no MCP servers', () => {
    expect(config.mcp).toEqual({ configFile: undefined });
  });

  it('treats an empty value as unset', () => {
    const blank = loadConfig({ PORT: '', LOG_LEVEL: '', BEDROCK_MODEL_ARNS: '' });
    expect(blank.port).toBe(3000);
    expect(blank.log.level).toBe('info');
    expect(blank.bedrock.models.map((m) => m.id)).toEqual([SONNET, HAIKU]);
  });
});

describe('loadConfig parsing', () => {
  it('parses numbers', () => {
    const config = loadConfig({
      PORT: '8080',
      BEDROCK_MAX_ATTEMPTS: '5',
      SESSION_TTL_HOURS: '0.5',
      MAX_AGENT_STEPS: '12',
      MAX_CONTEXT_TOKENS: '50000',
      MAX_FRAME_BYTES: '1024',
      MAX_CLIENT_BUFFER_BYTES: '2048',
      RATE_LIMIT_FRAMES_PER_SEC: '7',
      MAX_TURNS_PER_USER: '2',
      MAX_SOCKETS_PER_USER: '3',
    });
    expect(config.port).toBe(8080);
    expect(config.bedrock.maxAttempts).toBe(5);
    expect(config.sessionTtlSeconds).toBe(1800);
    expect(config.agent.maxSteps).toBe(12);
    expect(config.agent.maxContextTokens).toBe(50_000);
    expect(config.limits).toEqual({
      maxFrameBytes: 1024,
      maxClientBufferBytes: 2048,
      framesPerSecond: 7,
      frameBurst: 14,
      maxTurnsPerUser: 2,
      maxSocketsPerUser: 3,
    });
  });

  it('accepts port 0 (any free port)', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
  });

  it('takes WORKER_METRICS_PORT=0 as no metrics listener, and any other port as its port', () => {
    expect(loadConfig({ WORKER_METRICS_PORT: '0' }).workerMetricsPort).toBeUndefined();
    expect(loadConfig({ WORKER_METRICS_PORT: '9100' }).workerMetricsPort).toBe(9100);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['false', false],
    ['False', false],
    ['0', false],
  ])('parses the boolean %j as %j', (raw, expected) => {
    const config = loadConfig({
      RUN_WORKER: raw,
      LOG_STREAM_EVENTS: raw,
      AWS_EC2_METADATA_DISABLED: raw,
      // A gateway without a worker needs Redis, where its workers take the turns.
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(config.runWorker).toBe(expected);
    expect(config.log.streamEvents).toBe(expected);
    expect(config.bedrock.imdsDisabled).toBe(expected);
  });

  it('parses comma-separated lists, skipping blanks and spaces', () => {
    const config = loadConfig({
      ALLOWED_ORIGINS: 'https://a.example, https://b.example ,,',
      BEDROCK_MODEL_ARNS: `${HAIKU}, ${SONNET},`,
      BEDROCK_NON_STREAMING_MODELS: ` ${SONNET} ,`,
    });
    expect(config.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    expect(config.bedrock.models.map((m) => m.id)).toEqual([HAIKU, SONNET]);
    expect([...config.bedrock.nonStreamingModels]).toEqual([SONNET]);
  });

  it('parses AUTH_API_KEYS key:user pairs into a map and turns auth on', () => {
    const config = loadConfig({ AUTH_API_KEYS: 'k-alice:alice, k-bob:bob@example.com,' });
    expect([...config.auth.apiKeys]).toEqual([
      ['k-alice', 'alice'],
      ['k-bob', 'bob@example.com'],
    ]);
    expect(config.auth.enabled).toBe(true);
  });

  it.each(['k-alice:alice,k1:jwt:carol', 'k-alice:alice,a:b:carol'])(
    'refuses an AUTH_API_KEYS entry with more than one colon, naming it: %j',
    (value) => {
      const error = configError({ AUTH_API_KEYS: value });
      expect(error.problems).toEqual([
        'AUTH_API_KEYS=(hidden): expected pairs of key:user, comma-separated (entry 2 has more than one ":": a key or user name may not contain ":")',
      ]);
    },
  );

  it('turns auth on with AUTH_JWT_SECRET alone', () => {
    const config = loadConfig({ AUTH_JWT_SECRET: 'a-secret-of-32-characters-long!!' });
    expect(config.auth.enabled).toBe(true);
    expect(config.auth.jwtSecret).toBe('a-secret-of-32-characters-long!!');
    expect(config.auth.apiKeys.size).toBe(0);
    expect(config.auth.jwtIssuer).toBeUndefined();
    expect(config.auth.jwtAudience).toBeUndefined();
  });

  it('reads AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE', () => {
    const config = loadConfig({
      AUTH_JWT_SECRET: 'a-secret-of-32-characters-long!!',
      AUTH_JWT_ISSUER: 'https://issuer.example/',
      AUTH_JWT_AUDIENCE: 'agentgate',
    });
    expect(config.auth.jwtIssuer).toBe('https://issuer.example/');
    expect(config.auth.jwtAudience).toBe('agentgate');
  });

  it('refuses AUTH_JWT_ISSUER and AUTH_JWT_AUDIENCE without AUTH_JWT_SECRET', () => {
    const error = configError({
      AUTH_JWT_ISSUER: 'https://issuer.example/',
      AUTH_JWT_AUDIENCE: 'a',
    });
    expect(error.problems).toEqual([
      'AUTH_JWT_ISSUER needs AUTH_JWT_SECRET: it is checked in JWTs, which need the secret.',
      'AUTH_JWT_AUDIENCE needs AUTH_JWT_SECRET: it is checked in JWTs, which need the secret.',
    ]);
  });

  it('refuses an AUTH_JWT_ISSUER or AUTH_JWT_AUDIENCE with surrounding spaces', () => {
    const error = configError({
      AUTH_JWT_SECRET: 'a-secret-of-32-characters-long!!',
      AUTH_JWT_ISSUER: ' https://issuer.example/',
      AUTH_JWT_AUDIENCE: 'agentgate ',
    });
    expect(error.problems).toEqual([
      'AUTH_JWT_ISSUER=" https://issuer.example/": expected a value without surrounding spaces',
      'AUTH_JWT_AUDIENCE="agentgate ": expected a value without surrounding spaces',
    ]);
  });

  it('reads strings, URLs and credentials', () => {
    const config = loadConfig({
      AWS_PROFILE: 'dev',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret-example',
      AWS_SESSION_TOKEN: 'token-example',
      AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://127.0.0.1:4010',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:6006/v1/traces',
      SYSTEM_PROMPT: 'Be brief.',
      LOG_LEVEL: 'debug',
      MCP_CONFIG_FILE: 'config/mcp.json',
    });
    expect(config.bedrock.profile).toBe('dev');
    expect(config.bedrock.staticCredentials).toEqual({
      accessKeyId: 'AKIAEXAMPLE',
      secretAccessKey: 'secret-example',
      sessionToken: 'token-example',
    });
    expect(config.bedrock.endpoint).toBe('http://127.0.0.1:4010');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379/2');
    expect(config.otelEndpoint).toBe('http://127.0.0.1:6006/v1/traces');
    expect(config.agent.systemPrompt).toBe('Be brief.');
    expect(config.log.level).toBe('debug');
    expect(config.mcp).toEqual({ configFile: 'config/mcp.json' });
  });

  it('leaves the session token out of static credentials when it is not set', () => {
    const config = loadConfig({ AWS_ACCESS_KEY_ID: 'AKIA1', AWS_SECRET_ACCESS_KEY: 's1' });
    expect(config.bedrock.staticCredentials).toEqual({
      accessKeyId: 'AKIA1',
      secretAccessKey: 's1',
    });
  });
});

describe('loadConfig region', () => {
  it('prefers AWS_DEFAULT_REGION over AWS_REGION', () => {
    const config = loadConfig({ AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'ap-south-1' });
    expect(config.bedrock.defaultRegion).toBe('eu-west-1');
    expect(config.bedrock.models.map((m) => m.region)).toEqual(['eu-west-1', 'eu-west-1']);
  });

  it('falls back to AWS_REGION', () => {
    const config = loadConfig({ AWS_REGION: 'ap-south-1' });
    expect(config.bedrock.defaultRegion).toBe('ap-south-1');
    expect(config.bedrock.models[0]?.region).toBe('ap-south-1');
  });

  it('falls back to us-east-1', () => {
    expect(loadConfig({}).bedrock.defaultRegion).toBe('us-east-1');
  });

  it("keeps an ARN's own region", () => {
    const arn = `arn:aws:bedrock:eu-central-1::foundation-model/${HAIKU}`;
    const config = loadConfig({
      AWS_DEFAULT_REGION: 'us-west-2',
      BEDROCK_MODEL_ARNS: `${arn},${SONNET}`,
    });
    expect(config.bedrock.models.map((m) => m.region)).toEqual(['eu-central-1', 'us-west-2']);
  });
});

describe('loadConfig tools', () => {
  it('reads TOOL_MODULES as a list of paths and TOOL_TIMEOUT_MS in milliseconds', () => {
    const config = loadConfig({
      TOOL_MODULES: ' examples/tools/support-tickets.ts, ,/opt/tools/crm.mjs ',
      TOOL_TIMEOUT_MS: '3600000',
    });
    expect(config.tools).toEqual({
      modules: ['examples/tools/support-tickets.ts', '/opt/tools/crm.mjs'],
      timeoutMs: 3_600_000,
    });
  });

  it.each(['0', '-1', '1.5', '3600001', 'soon'])('refuses TOOL_TIMEOUT_MS=%s', (value) => {
    expect(configError({ TOOL_TIMEOUT_MS: value }).problems).toEqual([
      `TOOL_TIMEOUT_MS=${JSON.stringify(value)}: expected a whole number 1–3600000`,
    ]);
  });
});

describe('loadConfig errors', () => {
  it('reports every bad value at once', () => {
    const error = configError({ PORT: 'abc', RUN_WORKER: 'maybe', LOG_LEVEL: 'loud' });
    expect(error.problems).toHaveLength(3);
    const [port, worker, level] = error.problems;
    expect(port).toContain('PORT');
    expect(port).toContain('"abc"');
    expect(port).toMatch(/whole number/);
    expect(worker).toContain('RUN_WORKER');
    expect(worker).toContain('"maybe"');
    expect(worker).toMatch(/true or false/);
    expect(level).toContain('LOG_LEVEL');
    expect(level).toContain('"loud"');
    for (const accepted of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(level).toContain(accepted);
    }
    // The message lists each problem too.
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  it('refuses RUN_WORKER=false without REDIS_URL, and a key prefix with braces', () => {
    const error = configError({ RUN_WORKER: 'false', REDIS_KEY_PREFIX: 'a{b}:' });
    expect(error.problems.find((p) => p.startsWith('REDIS_KEY_PREFIX='))).toMatch(/without \{/);
    expect(error.problems.find((p) => p.startsWith('RUN_WORKER=false'))).toContain('REDIS_URL');
  });

  it.each([
    ['PORT', '70000', /0–65535/],
    ['PORT', '3.5', /whole number/],
    ['PORT', '-1', /whole number/],
    ['PORT', '   ', /whole number|port/],
    ['WORKER_METRICS_PORT', '65536', /0–65535/],
    ['WORKER_METRICS_PORT', 'off', /whole number/],
    ['BEDROCK_MAX_ATTEMPTS', '0', /whole number/],
    ['BEDROCK_MAX_ATTEMPTS', '21', /1–20/],
    ['SESSION_TTL_HOURS', '0', /number > 0/],
    ['SESSION_TTL_HOURS', 'abc', /number > 0/],
    ['MAX_AGENT_STEPS', 'eight', /whole number ≥ 1/],
    ['MAX_CONTEXT_TOKENS', '10', /whole number ≥ 1000/],
    ['MAX_FRAME_BYTES', '12', /whole number ≥ 256/],
    ['MAX_CLIENT_BUFFER_BYTES', '1e2', /whole number ≥ 1024/],
    ['RATE_LIMIT_FRAMES_PER_SEC', '0', /whole number ≥ 1/],
    ['MAX_TURNS_PER_USER', '1.5', /whole number ≥ 1/],
    ['MAX_SOCKETS_PER_USER', 'many', /whole number ≥ 1/],
    ['RUN_WORKER', 'on', /true or false/],
    ['LOG_STREAM_EVENTS', '2', /true or false/],
    ['AWS_DEFAULT_REGION', 'mars', /AWS region/],
    ['AWS_REGION', 'us_east_1', /AWS region/],
    ['AWS_ENDPOINT_URL_BEDROCK_RUNTIME', 'localhost:4010', /URL/],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://x', /URL/],
  ])('reports %s=%j with the value and what is accepted', (name, value, accepted) => {
    const error = configError({ [name]: value });
    expect(error.problems).toHaveLength(1);
    const [problem] = error.problems;
    expect(problem).toContain(name);
    expect(problem).toContain(JSON.stringify(value));
    expect(problem).toMatch(accepted);
  });

  it('names a bad model entry and the accepted forms', () => {
    const error = configError({ BEDROCK_MODEL_ARNS: `${HAIKU},not-a-model` });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('"not-a-model"');
    expect(error.problems[0]).toContain('Accepted forms');
    expect(error.problems[0]).toContain('foundation-model ARN');
  });

  it('reports a list with no model', () => {
    const error = configError({ BEDROCK_MODEL_ARNS: ' , ,' });
    expect(error.problems).toEqual(['BEDROCK_MODEL_ARNS names no model.']);
  });

  it('reports model errors together with other bad values', () => {
    const error = configError({ BEDROCK_MODEL_ARNS: 'garbage', PORT: 'x', MAX_AGENT_STEPS: '0' });
    expect(error.problems).toHaveLength(3);
    expect(error.problems.some((p) => p.includes('"garbage"'))).toBe(true);
    expect(error.problems.some((p) => p.startsWith('PORT='))).toBe(true);
    expect(error.problems.some((p) => p.startsWith('MAX_AGENT_STEPS='))).toBe(true);
  });

  it('requires BEDROCK_NON_STREAMING_MODELS to name configured entries', () => {
    expect([
      ...loadConfig({ BEDROCK_NON_STREAMING_MODELS: HAIKU }).bedrock.nonStreamingModels,
    ]).toEqual([HAIKU]);
    const error = configError({
      BEDROCK_MODEL_ARNS: SONNET,
      BEDROCK_NON_STREAMING_MODELS: `${SONNET},${HAIKU}`,
    });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('BEDROCK_NON_STREAMING_MODELS');
    expect(error.problems[0]).toContain(`"${HAIKU}"`);
  });

  it('requires AWS_SECRET_ACCESS_KEY with AWS_ACCESS_KEY_ID', () => {
    const error = configError({ AWS_ACCESS_KEY_ID: 'AKIAONLY' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('AWS_ACCESS_KEY_ID');
    expect(error.problems[0]).toContain('AWS_SECRET_ACCESS_KEY');
  });

  it('requires AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY', () => {
    const error = configError({ AWS_SECRET_ACCESS_KEY: 'only-the-secret-value' });
    expect(error.problems).toHaveLength(1);
    expect(error.message).not.toContain('only-the-secret-value');
  });

  it('never shows a secret value', () => {
    const secrets = {
      AUTH_API_KEYS: 'sekrit-api-key-without-user',
      AUTH_JWT_SECRET: 'short-jwt',
      REDIS_URL: 'http://user:sekrit-redis-pw@redis.example',
      AWS_SECRET_ACCESS_KEY: 'sekrit-aws-secret',
    };
    const error = configError(secrets);
    // Three bad secrets, and the secret key without its access key id.
    expect(error.problems).toHaveLength(4);
    for (const name of ['AUTH_API_KEYS', 'AUTH_JWT_SECRET', 'REDIS_URL']) {
      const problem = error.problems.find((p) => p.startsWith(`${name}=`));
      expect(problem, name).toBeDefined();
      expect(problem).toContain('(hidden)');
    }
    expect(error.problems.find((p) => p.startsWith('AUTH_API_KEYS='))).toContain('key:user');
    expect(error.problems.find((p) => p.startsWith('AUTH_JWT_SECRET='))).toContain('16');
    expect(error.problems.find((p) => p.startsWith('REDIS_URL='))).toContain('redis:');
    for (const value of [...Object.values(secrets), 'sekrit']) {
      expect(error.message).not.toContain(value);
      for (const problem of error.problems) expect(problem).not.toContain(value);
    }
  });

  it.each(['nocolon', ':user-without-key', 'key-without-user:', 'key:user with spaces'])(
    'rejects the AUTH_API_KEYS value %j without showing it',
    (value) => {
      const error = configError({ AUTH_API_KEYS: value });
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toBe(
        'AUTH_API_KEYS=(hidden): expected pairs of key:user, comma-separated (entry 1 is not; a user is 1–128 of A–Z a–z 0–9 _ . @ -)',
      );
    },
  );
});

describe('loadConfig result', () => {
  it('is frozen all the way down', () => {
    const config = loadConfig({ ALLOWED_ORIGINS: 'https://a.example' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.bedrock)).toBe(true);
    expect(Object.isFrozen(config.bedrock.models)).toBe(true);
    expect(Object.isFrozen(config.bedrock.models[0])).toBe(true);
    expect(Object.isFrozen(config.limits)).toBe(true);
    expect(Object.isFrozen(config.allowedOrigins)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (config.limits as { maxFrameBytes: number }).maxFrameBytes = 1;
    }).toThrow(TypeError);
    expect(config.port).toBe(3000);
  });
});

describe('loadConfig host', () => {
  it('forces 0.0.0.0 to 127.0.0.1 when auth is off and says so', () => {
    const config = loadConfig({ HOST: '0.0.0.0' });
    expect(config.host).toBe('127.0.0.1');
    expect(config.hostOverridden).toBe('0.0.0.0');
  });

  it('keeps 0.0.0.0 with AUTH_API_KEYS', () => {
    const config = loadConfig({ HOST: '0.0.0.0', AUTH_API_KEYS: 'k1:alice' });
    expect(config.host).toBe('0.0.0.0');
    expect(config.hostOverridden).toBeUndefined();
  });

  it('keeps 0.0.0.0 with AUTH_JWT_SECRET', () => {
    const config = loadConfig({ HOST: '0.0.0.0', AUTH_JWT_SECRET: 'x'.repeat(32) });
    expect(config.host).toBe('0.0.0.0');
    expect(config.hostOverridden).toBeUndefined();
  });

  it.each(['127.0.0.1', 'localhost', '::1'])('keeps the loopback host %s without auth', (host) => {
    const config = loadConfig({ HOST: host });
    expect(config.host).toBe(host);
    expect(config.hostOverridden).toBeUndefined();
  });
});

describe('skills configuration', () => {
  it('defaults to the bundled skills and the demo database, 200 rows, 5 s', () => {
    expect(loadConfig({}).skills).toEqual({
      dir: 'skills',
      sqlDatabaseUrl: 'sqlite:data/demo.sqlite',
      sqlMaxRows: 200,
      sqlTimeoutMs: 5000,
    });
  });

  it('accepts sqlite: paths and PostgreSQL URLs', () => {
    for (const url of [
      'sqlite:shop.db',
      'sqlite:///var/lib/shop.db',
      'postgres://reader:pw@db.internal:5432/shop',
      'postgresql://db/shop',
    ]) {
      expect(loadConfig({ SQL_DATABASE_URL: url }).skills.sqlDatabaseUrl).toBe(url);
    }
    const config = loadConfig({
      SKILLS_DIR: '/opt/skills',
      SQL_MAX_ROWS: '50',
      SQL_TIMEOUT_MS: '800',
    });
    expect(config.skills).toMatchObject({ dir: '/opt/skills', sqlMaxRows: 50, sqlTimeoutMs: 800 });
  });

  it('refuses other database URLs without showing them, and bad caps', () => {
    const error = configError({
      SQL_DATABASE_URL: 'mysql://root:hunter2@db/shop',
      SQL_MAX_ROWS: '0',
      SQL_TIMEOUT_MS: '10',
    });
    expect(error.problems).toEqual([
      'SQL_DATABASE_URL=(hidden): expected sqlite:<path> or a postgres:// or postgresql:// URL',
      'SQL_MAX_ROWS="0": expected a whole number 1–100000',
      'SQL_TIMEOUT_MS="10": expected a whole number 100–600000',
    ]);
    expect(error.message).not.toContain('hunter2');
    expect(configError({ SQL_DATABASE_URL: 'sqlite:' }).problems[0]).toMatch(/^SQL_DATABASE_URL=/);
  });
});

describe('Bedrock in depth', () => {
  it('turns caching on, and the rest off, by default', () => {
    const { bedrock } = loadConfig({});
    expect(bedrock.promptCache).toBe(true);
    expect(bedrock.pricesFile).toBeUndefined();
    expect(bedrock.guardrail).toBeUndefined();
    expect(bedrock.reasoningBudgetTokens).toBeUndefined();
    expect(bedrock.maxConcurrency).toBeUndefined();
  });

  it('reads each variable', () => {
    const { bedrock } = loadConfig({
      BEDROCK_PROMPT_CACHE: 'off',
      MODEL_PRICES_FILE: 'prices.json',
      BEDROCK_GUARDRAIL_ID: 'gr0abc123',
      BEDROCK_GUARDRAIL_VERSION: 'DRAFT',
      BEDROCK_REASONING_BUDGET_TOKENS: '2048',
      BEDROCK_MAX_CONCURRENCY: '4',
    });
    expect(bedrock).toMatchObject({
      promptCache: false,
      pricesFile: 'prices.json',
      guardrail: { id: 'gr0abc123', version: 'DRAFT', streamMode: 'async' },
      reasoningBudgetTokens: 2048,
      maxConcurrency: 4,
    });
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:guardrail/gr0abc123';
    expect(
      loadConfig({
        BEDROCK_GUARDRAIL_ID: arn,
        BEDROCK_GUARDRAIL_VERSION: '3',
        BEDROCK_GUARDRAIL_STREAM_MODE: 'sync',
      }).bedrock.guardrail,
    ).toEqual({ id: arn, version: '3', streamMode: 'sync' });
  });

  it('names every bad value', () => {
    expect(
      configError({
        BEDROCK_PROMPT_CACHE: 'on',
        BEDROCK_GUARDRAIL_ID: 'My Guardrail',
        BEDROCK_GUARDRAIL_VERSION: 'v1',
        BEDROCK_GUARDRAIL_STREAM_MODE: 'later',
        BEDROCK_REASONING_BUDGET_TOKENS: '512',
        BEDROCK_MAX_CONCURRENCY: '0',
      }).problems,
    ).toEqual([
      'BEDROCK_PROMPT_CACHE="on": expected auto or off',
      'BEDROCK_GUARDRAIL_ID="My Guardrail": expected a guardrail ID (lower-case letters and digits) or guardrail ARN',
      'BEDROCK_GUARDRAIL_STREAM_MODE="later": expected async or sync',
      'BEDROCK_GUARDRAIL_VERSION="v1": expected DRAFT or a version number',
      'BEDROCK_REASONING_BUDGET_TOKENS="512": expected a whole number 1024–1000000',
      'BEDROCK_MAX_CONCURRENCY="0": expected a whole number 1–100000',
    ]);
    expect(configError({ BEDROCK_GUARDRAIL_ID: 'gr0abc123' }).problems).toEqual([
      'BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION must be set together.',
    ]);
  });
});

describe('configuration documentation', () => {
  const documented = tableRows(readDoc('configuration.md'), ['variable', 'default', 'meaning']).map(
    ([cell = '']) => {
      const [name, ...more] = codeSpans(cell);
      if (name === undefined || more.length > 0) throw new Error(`not one variable: ${cell}`);
      return name;
    },
  );

  it('lists in docs/configuration.md exactly the variables the code reads', () => {
    expect(documented).toContain('PORT');
    expect(documented).toHaveLength(new Set(documented).size);
    const undocumented = CONFIG_VARIABLES.filter((name) => !documented.includes(name));
    const unread = documented.filter((name) => !CONFIG_VARIABLES.includes(name));
    expect(undocumented).toEqual([]);
    expect(unread).toEqual([]);
  });

  it('names only variables that exist in docs/security.md', () => {
    const text = readFileSync(path.resolve(repoRoot, 'docs/security.md'), 'utf8');
    const named = [...text.matchAll(/`([A-Z][A-Z0-9]*_[A-Z0-9_]+)`/g)].map((m) => m[1]);
    expect(named).toContain('AUTH_JWT_ISSUER');
    expect(named.filter((name) => !CONFIG_VARIABLES.includes(name as string))).toEqual([]);
  });

  it('documents every variable in .env.example', () => {
    const file = path.resolve(repoRoot, '.env.example');
    expect(existsSync(file), `${file} exists`).toBe(true);
    const text = readFileSync(file, 'utf8');
    const undocumented = CONFIG_VARIABLES.filter(
      (name) => !new RegExp(`(?<![A-Z0-9_])${name}(?![A-Z0-9_])`).test(text),
    );
    expect(undocumented).toEqual([]);
  });
});

/** Runs the server from `cwd` with `env`; resolves once it exits (killed after 15 s). */
function runServer(cwd: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(
      path.join(repoRoot, 'node_modules/.bin/tsx'),
      [path.join(repoRoot, 'src/server.ts')],
      {
        cwd,
        env: {
          ...process.env,
          AWS_EC2_METADATA_DISABLED: 'true',
          PORT: '0',
          HOST: '127.0.0.1',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    // If the bad entry were accepted the server would listen forever: stop it.
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 15_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('server start-up', () => {
  it('reads .env from the working directory, under the real environment', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentgate-dotenv-'));
    writeFileSync(
      path.join(dir, '.env'),
      'BEDROCK_MODEL_ARNS=from-dotenv-file\nMAX_AGENT_STEPS=0\n',
    );
    const result = await runServer(dir, { MAX_AGENT_STEPS: '5' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('"from-dotenv-file"');
    // The real environment's MAX_AGENT_STEPS=5 wins over the file's bad 0.
    expect(result.stderr).not.toContain('MAX_AGENT_STEPS');
  }, 20_000);

  it('exits non-zero naming a bad model entry and the accepted forms', async () => {
    const result = await runServer(repoRoot, { BEDROCK_MODEL_ARNS: 'not-a-model' });
    expect(result.code).not.toBe(0);
    expect(result.code).not.toBeNull();
    expect(result.stderr).toContain('"not-a-model"');
    expect(result.stderr).toContain('Accepted forms');
    for (const form of [
      'anthropic.claude-3-5-haiku-20241022-v1:0',
      'us.anthropic.claude-3-5-haiku-20241022-v1:0',
      'arn:aws:bedrock:us-east-1::foundation-model/',
      ':inference-profile/',
      ':application-inference-profile/',
    ]) {
      expect(result.stderr).toContain(form);
    }
  }, 20_000);
});
