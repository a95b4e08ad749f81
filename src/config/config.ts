import { z } from 'zod';
import {
  isAwsRegion,
  type ModelEntry,
  parseModelList,
} from '../providers/bedrock/model-registry.ts';

/** The two models offered by default; the first is the default. */
export const DEFAULT_MODELS =
  'anthropic.claude-3-5-sonnet-20241022-v2:0,anthropic.claude-3-5-haiku-20241022-v1:0';

export const DEFAULT_SYSTEM_PROMPT =
  'You are a helpful assistant. Use the tools you are given when they help; answer concisely.';

/** Longest tool call allowed (TOOL_TIMEOUT_MS and a tool's `metadata.timeoutMs`): one hour. */
export const MAX_TOOL_TIMEOUT_MS = 3_600_000;
/** The bundled skills folder, relative to the working directory (the repo root for npm scripts). */
export const DEFAULT_SKILLS_DIR = 'skills';

/** The demo database the SQL skill builds from the repo's CSV files when it is missing. */
export const DEFAULT_SQL_DATABASE_URL = 'sqlite:data/demo.sqlite';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// Each variable: a schema over its raw string, with what is accepted in words. Secrets are
// marked so that their values never appear in an error message.
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .refine((v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, {
      error:
        max === Number.MAX_SAFE_INTEGER
          ? `a whole number ≥ ${min}`
          : `a whole number ${min}–${max}`,
    })
    .transform(Number);
const positive = z
  .string()
  .refine((v) => /^\d+(\.\d+)?$/.test(v) && Number(v) > 0, { error: 'a number > 0' })
  .transform(Number);
const bool = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'true or false' }))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: `a URL (${protocols.join(' or ')})` },
  );
const list = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
const region = z.string().refine(isAwsRegion, { error: 'an AWS region such as us-east-1' });
const apiKeys = z.string().transform((v, ctx) => {
  const keys = new Map<string, string>();
  const entries = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [index, pair] of entries.entries()) {
    // Entries are named by position: their text holds a key, which is never shown.
    const entry = `entry ${index + 1}`;
    const at = pair.indexOf(':');
    const key = pair.slice(0, at);
    const user = pair.slice(at + 1);
    if (user.includes(':')) {
      // Ambiguous (which ':' splits it?), and a user name with ':' could pass for a JWT
      // user (jwt:<sub>): refused rather than guessed.
      ctx.addIssue({
        code: 'custom',
        message: `pairs of key:user, comma-separated (${entry} has more than one ":": a key or user name may not contain ":")`,
      });
      return z.NEVER;
    }
    if (at <= 0 || !/^[\w.@-]{1,128}$/.test(user)) {
      ctx.addIssue({
        code: 'custom',
        message: `pairs of key:user, comma-separated (${entry} is not; a user is 1–128 of A–Z a–z 0–9 _ . @ -)`,
      });
      return z.NEVER;
    }
    keys.set(key, user);
  }
  return keys;
});
/** `sqlite:<path>` (relative to the working directory) or a `postgres://` / `postgresql://` URL. */
const sqlUrl = z
  .string()
  .refine(
    (v) =>
      /^sqlite:.+/.test(v) ||
      ((v.startsWith('postgres://') || v.startsWith('postgresql://')) && URL.canParse(v)),
    { error: 'sqlite:<path> or a postgres:// or postgresql:// URL' },
  );
const claim = z.string().refine((v) => v.trim() === v && v !== '', {
  error: 'a value without surrounding spaces',
});

const VARIABLES = {
  PORT: { schema: int(0, 65535), default: '3000' },
  HOST: { schema: z.string().min(1, { error: 'a host name or IP address' }), default: '127.0.0.1' },
  BEDROCK_MODEL_ARNS: { schema: z.string(), default: DEFAULT_MODELS },
  AWS_DEFAULT_REGION: { schema: region },
  AWS_REGION: { schema: region },
  AWS_PROFILE: { schema: z.string().min(1) },
  AWS_ACCESS_KEY_ID: { schema: z.string().min(1), secret: true },
  AWS_SECRET_ACCESS_KEY: { schema: z.string().min(1), secret: true },
  AWS_SESSION_TOKEN: { schema: z.string().min(1), secret: true },
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME: { schema: url(['http:', 'https:']) },
  AWS_EC2_METADATA_DISABLED: { schema: bool, default: 'false' },
  BEDROCK_MAX_ATTEMPTS: { schema: int(1, 20), default: '3' },
  BEDROCK_NON_STREAMING_MODELS: { schema: list, default: '' },
  BEDROCK_PROMPT_CACHE: {
    schema: z.enum(['auto', 'off'], { error: 'auto or off' }),
    default: 'auto',
  },
  MODEL_PRICES_FILE: { schema: z.string().min(1) },
  BEDROCK_GUARDRAIL_ID: {
    schema: z
      .string()
      .regex(
        /^([a-z0-9]{1,64}|arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]+:\d{12}:guardrail\/[a-z0-9]+)$/,
        {
          error: 'a guardrail ID (lower-case letters and digits) or guardrail ARN',
        },
      ),
  },
  BEDROCK_GUARDRAIL_STREAM_MODE: {
    schema: z.enum(['async', 'sync'], { error: 'async or sync' }),
    default: 'async',
  },
  BEDROCK_GUARDRAIL_VERSION: {
    schema: z.string().regex(/^(DRAFT|[1-9]\d{0,7})$/, { error: 'DRAFT or a version number' }),
  },
  BEDROCK_REASONING_BUDGET_TOKENS: { schema: int(1024, 1_000_000) },
  BEDROCK_MAX_CONCURRENCY: { schema: int(1, 100_000) },
  REDIS_URL: { schema: url(['redis:', 'rediss:']), secret: true },
  REDIS_KEY_PREFIX: {
    schema: z.string().regex(/^[^{}]+$/, { error: 'a key prefix without { or }' }),
    default: 'agentgate:',
  },
  RUN_WORKER: { schema: bool, default: 'true' },
  WORKER_CONCURRENCY: { schema: int(1, 10_000), default: '32' },
  WORKER_METRICS_PORT: { schema: int(0, 65535), default: '9464' },
  SESSION_TTL_HOURS: { schema: positive, default: '24' },
  MAX_AGENT_STEPS: { schema: int(1), default: '8' },
  SYSTEM_PROMPT: { schema: z.string(), default: DEFAULT_SYSTEM_PROMPT },
  MAX_CONTEXT_TOKENS: { schema: int(1000), default: '100000' },
  AGENTS_FILE: { schema: z.string().min(1) },
  TOOL_MODULES: { schema: list, default: '' },
  APPROVAL_REQUIRED_TOOLS: { schema: list, default: '' },
  APPROVAL_TIMEOUT_SECONDS: { schema: int(1, 86_400), default: '600' },
  TOOL_TIMEOUT_MS: { schema: int(1, MAX_TOOL_TIMEOUT_MS), default: '30000' },
  AUTH_API_KEYS: { schema: apiKeys, secret: true },
  AUTH_JWT_SECRET: {
    schema: z.string().min(16, { error: 'at least 16 characters' }),
    secret: true,
  },
  AUTH_JWT_ISSUER: { schema: claim },
  AUTH_JWT_AUDIENCE: { schema: claim },
  ALLOWED_ORIGINS: { schema: list },
  MAX_FRAME_BYTES: { schema: int(256), default: '65536' },
  MAX_CLIENT_BUFFER_BYTES: { schema: int(1024), default: '4194304' },
  RATE_LIMIT_FRAMES_PER_SEC: { schema: int(1), default: '20' },
  MAX_TURNS_PER_USER: { schema: int(1), default: '4' },
  MAX_SOCKETS_PER_USER: { schema: int(1), default: '32' },
  LOG_LEVEL: { schema: z.enum(LOG_LEVELS, { error: LOG_LEVELS.join(', ') }), default: 'info' },
  LOG_STREAM_EVENTS: { schema: bool, default: 'false' },
  OTEL_EXPORTER_OTLP_ENDPOINT: { schema: url(['http:', 'https:']) },
  MCP_CONFIG_FILE: { schema: z.string().min(1) },
  SKILLS_DIR: { schema: z.string().min(1), default: DEFAULT_SKILLS_DIR },
  // Secret: a PostgreSQL URL may carry a password.
  SQL_DATABASE_URL: { schema: sqlUrl, default: DEFAULT_SQL_DATABASE_URL, secret: true },
  SQL_MAX_ROWS: { schema: int(1, 100_000), default: '200' },
  SQL_TIMEOUT_MS: { schema: int(100, 600_000), default: '5000' },
} satisfies Record<string, { schema: z.ZodType; default?: string; secret?: boolean }>;

type Variables = typeof VARIABLES;
type Values = {
  [K in keyof Variables]: Variables[K] extends { default: string }
    ? z.output<Variables[K]['schema']>
    : z.output<Variables[K]['schema']> | undefined;
};

/** The guardrail applied to every model call (BEDROCK_GUARDRAIL_*). */
export interface GuardrailSettings {
  readonly id: string;
  readonly version: string;
  /**
   * How streamed calls are checked: `async` streams text while the guardrail checks it;
   * `sync` holds each chunk until checked, which masking of personal data needs.
   */
  readonly streamMode: 'async' | 'sync';
}

export interface Config {
  readonly port: number;
  /** The address to listen on; forced to 127.0.0.1 when auth is off. */
  readonly host: string;
  readonly bedrock: {
    readonly models: readonly ModelEntry[];
    /** Region for plain model IDs: AWS_DEFAULT_REGION, then AWS_REGION, then us-east-1. */
    readonly defaultRegion: string;
    readonly maxAttempts: number;
    readonly nonStreamingModels: ReadonlySet<string>;
    /** BEDROCK_PROMPT_CACHE=auto: cache points for the models that support them. */
    readonly promptCache: boolean;
    /** MODEL_PRICES_FILE: prices that override or add to the built-in list prices. */
    readonly pricesFile: string | undefined;
    /** BEDROCK_GUARDRAIL_ID and _VERSION: the guardrail applied to every call. */
    readonly guardrail: GuardrailSettings | undefined;
    /** BEDROCK_REASONING_BUDGET_TOKENS: extended thinking, for models that have it. */
    readonly reasoningBudgetTokens: number | undefined;
    /** BEDROCK_MAX_CONCURRENCY: concurrent calls per model, cluster-wide. */
    readonly maxConcurrency: number | undefined;
    readonly endpoint: string | undefined;
    readonly profile: string | undefined;
    /** AWS_EC2_METADATA_DISABLED: skip the instance-role link of the credential chain. */
    readonly imdsDisabled: boolean;
    readonly staticCredentials:
      | { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
      | undefined;
  };
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key and channel (REDIS_KEY_PREFIX). */
  readonly redisKeyPrefix: string;
  readonly runWorker: boolean;
  /** WORKER_CONCURRENCY: turns one process takes from the Redis queue at once. */
  readonly workerConcurrency: number;
  /**
   * Port of a worker process's `/metrics`, `/health` and `/ready` (on `host`);
   * undefined when WORKER_METRICS_PORT=0 turns the listener off.
   */
  readonly workerMetricsPort: number | undefined;
  readonly sessionTtlSeconds: number;
  readonly agent: {
    readonly maxSteps: number;
    readonly systemPrompt: string;
    readonly maxContextTokens: number;
    /** AGENTS_FILE: the agents offered; undefined: the one default agent. */
    readonly agentsFile: string | undefined;
  };
  readonly tools: {
    /** TOOL_MODULES: paths (relative to the working directory) of modules of tools to load. */
    readonly modules: readonly string[];
    /** TOOL_TIMEOUT_MS: how long a tool call may run, unless its `metadata.timeoutMs` says. */
    readonly timeoutMs: number;
  };
  readonly approval: {
    /** APPROVAL_REQUIRED_TOOLS: tools that need a person's approval, whichever agent runs them. */
    readonly requiredTools: ReadonlySet<string>;
    /** APPROVAL_TIMEOUT_SECONDS: how long a request waits for an answer before `timeout`. */
    readonly timeoutMs: number;
  };
  readonly auth: {
    readonly enabled: boolean;
    readonly apiKeys: ReadonlyMap<string, string>;
    /** HS256 secret of the JWTs; undefined: JWTs are not accepted. */
    readonly jwtSecret: string | undefined;
    /** When set, a JWT's `iss` must equal it. */
    readonly jwtIssuer: string | undefined;
    /** When set, a JWT's `aud` must be it or a list that includes it. */
    readonly jwtAudience: string | undefined;
  };
  readonly allowedOrigins: readonly string[] | undefined;
  readonly limits: {
    readonly maxFrameBytes: number;
    readonly maxClientBufferBytes: number;
    readonly framesPerSecond: number;
    readonly frameBurst: number;
    readonly maxTurnsPerUser: number;
    readonly maxSocketsPerUser: number;
  };
  readonly log: { readonly level: (typeof LOG_LEVELS)[number]; readonly streamEvents: boolean };
  readonly otelEndpoint: string | undefined;
  readonly mcp: {
    /** MCP_CONFIG_FILE: the MCP servers whose tools are offered (read by readMcpConfig). */
    readonly configFile: string | undefined;
  };
  readonly skills: {
    /** SKILLS_DIR: one folder per skill, each with a SKILL.md. */
    readonly dir: string;
    /** `sqlite:<path>` or a `postgres://` URL: the SQL skill's database. */
    readonly sqlDatabaseUrl: string;
    readonly sqlMaxRows: number;
    readonly sqlTimeoutMs: number;
  };
  /** Set when HOST asked for a non-loopback address but auth is off. */
  readonly hostOverridden: string | undefined;
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Reads and validates configuration from an environment. Every bad value is reported at
 * once (name, value unless secret, what is accepted) in one ConfigError. The result is frozen.
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  const specs: [string, { schema: z.ZodType; default?: string; secret?: boolean }][] =
    Object.entries(VARIABLES);
  for (const [name, spec] of specs) {
    const raw = env[name] === undefined || env[name] === '' ? spec.default : env[name];
    if (raw === undefined) continue;
    const parsed = spec.schema.safeParse(raw);
    if (parsed.success) {
      values[name] = parsed.data;
    } else {
      const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
      const accepted = parsed.error.issues.map((i) => i.message).join('; ');
      problems.push(`${name}=${shown}: expected ${accepted}`);
    }
  }
  const v = values as Values;

  const defaultRegion = v.AWS_DEFAULT_REGION ?? v.AWS_REGION ?? 'us-east-1';
  const { models, errors } = parseModelList(v.BEDROCK_MODEL_ARNS ?? '', defaultRegion);
  problems.push(...errors);
  const known = new Set(models.map((m) => m.id));
  for (const entry of v.BEDROCK_NON_STREAMING_MODELS ?? []) {
    if (!known.has(entry)) {
      problems.push(
        `BEDROCK_NON_STREAMING_MODELS names "${entry}", which is not in BEDROCK_MODEL_ARNS.`,
      );
    }
  }
  if ((v.BEDROCK_GUARDRAIL_ID === undefined) !== (v.BEDROCK_GUARDRAIL_VERSION === undefined)) {
    problems.push('BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION must be set together.');
  }
  if ((v.AWS_ACCESS_KEY_ID === undefined) !== (v.AWS_SECRET_ACCESS_KEY === undefined)) {
    problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together.');
  }
  for (const name of ['AUTH_JWT_ISSUER', 'AUTH_JWT_AUDIENCE'] as const) {
    if (v[name] !== undefined && v.AUTH_JWT_SECRET === undefined) {
      problems.push(`${name} needs AUTH_JWT_SECRET: it is checked in JWTs, which need the secret.`);
    }
  }
  if (v.RUN_WORKER === false && v.REDIS_URL === undefined) {
    problems.push('RUN_WORKER=false needs REDIS_URL: turns then run in workers that share Redis.');
  }
  if (
    v.APPROVAL_TIMEOUT_SECONDS !== undefined &&
    v.SESSION_TTL_HOURS !== undefined &&
    v.APPROVAL_TIMEOUT_SECONDS > v.SESSION_TTL_HOURS * 3600
  ) {
    problems.push(
      `APPROVAL_TIMEOUT_SECONDS=${v.APPROVAL_TIMEOUT_SECONDS} is longer than SESSION_TTL_HOURS (${v.SESSION_TTL_HOURS} h): a request would outlive its conversation.`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const apiKeys = v.AUTH_API_KEYS ?? new Map<string, string>();
  const authEnabled = apiKeys.size > 0 || v.AUTH_JWT_SECRET !== undefined;
  const host = authEnabled || LOOPBACK.has(v.HOST) ? v.HOST : '127.0.0.1';

  return deepFreeze({
    port: v.PORT,
    host,
    hostOverridden: host === v.HOST ? undefined : v.HOST,
    bedrock: {
      models,
      defaultRegion,
      maxAttempts: v.BEDROCK_MAX_ATTEMPTS,
      nonStreamingModels: new Set(v.BEDROCK_NON_STREAMING_MODELS),
      promptCache: v.BEDROCK_PROMPT_CACHE === 'auto',
      pricesFile: v.MODEL_PRICES_FILE,
      guardrail:
        v.BEDROCK_GUARDRAIL_ID && v.BEDROCK_GUARDRAIL_VERSION
          ? {
              id: v.BEDROCK_GUARDRAIL_ID,
              version: v.BEDROCK_GUARDRAIL_VERSION,
              streamMode: v.BEDROCK_GUARDRAIL_STREAM_MODE,
            }
          : undefined,
      reasoningBudgetTokens: v.BEDROCK_REASONING_BUDGET_TOKENS,
      maxConcurrency: v.BEDROCK_MAX_CONCURRENCY,
      endpoint: v.AWS_ENDPOINT_URL_BEDROCK_RUNTIME,
      profile: v.AWS_PROFILE,
      imdsDisabled: v.AWS_EC2_METADATA_DISABLED,
      staticCredentials:
        v.AWS_ACCESS_KEY_ID && v.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: v.AWS_ACCESS_KEY_ID,
              secretAccessKey: v.AWS_SECRET_ACCESS_KEY,
              ...(v.AWS_SESSION_TOKEN ? { sessionToken: v.AWS_SESSION_TOKEN } : {}),
            }
          : undefined,
    },
    redisUrl: v.REDIS_URL,
    redisKeyPrefix: v.REDIS_KEY_PREFIX,
    runWorker: v.RUN_WORKER,
    workerConcurrency: v.WORKER_CONCURRENCY,
    workerMetricsPort: v.WORKER_METRICS_PORT === 0 ? undefined : v.WORKER_METRICS_PORT,
    sessionTtlSeconds: Math.round(v.SESSION_TTL_HOURS * 3600),
    agent: {
      maxSteps: v.MAX_AGENT_STEPS,
      systemPrompt: v.SYSTEM_PROMPT,
      maxContextTokens: v.MAX_CONTEXT_TOKENS,
      agentsFile: v.AGENTS_FILE,
    },
    tools: { modules: v.TOOL_MODULES, timeoutMs: v.TOOL_TIMEOUT_MS },
    approval: {
      requiredTools: new Set(v.APPROVAL_REQUIRED_TOOLS),
      timeoutMs: v.APPROVAL_TIMEOUT_SECONDS * 1000,
    },
    auth: {
      enabled: authEnabled,
      apiKeys,
      jwtSecret: v.AUTH_JWT_SECRET,
      jwtIssuer: v.AUTH_JWT_ISSUER,
      jwtAudience: v.AUTH_JWT_AUDIENCE,
    },
    allowedOrigins: v.ALLOWED_ORIGINS?.length ? v.ALLOWED_ORIGINS : undefined,
    limits: {
      maxFrameBytes: v.MAX_FRAME_BYTES,
      maxClientBufferBytes: v.MAX_CLIENT_BUFFER_BYTES,
      framesPerSecond: v.RATE_LIMIT_FRAMES_PER_SEC,
      frameBurst: v.RATE_LIMIT_FRAMES_PER_SEC * 2,
      maxTurnsPerUser: v.MAX_TURNS_PER_USER,
      maxSocketsPerUser: v.MAX_SOCKETS_PER_USER,
    },
    log: { level: v.LOG_LEVEL, streamEvents: v.LOG_STREAM_EVENTS },
    otelEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
    mcp: { configFile: v.MCP_CONFIG_FILE },
    skills: {
      dir: v.SKILLS_DIR,
      sqlDatabaseUrl: v.SQL_DATABASE_URL,
      sqlMaxRows: v.SQL_MAX_ROWS,
      sqlTimeoutMs: v.SQL_TIMEOUT_MS,
    },
  });
}

/** Names of every variable loadConfig reads, for docs and the test that checks them. */
export const CONFIG_VARIABLES = Object.keys(VARIABLES);

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    if (!(value instanceof Map) && !(value instanceof Set)) {
      for (const inner of Object.values(value)) deepFreeze(inner);
    }
    Object.freeze(value);
  }
  return value;
}
