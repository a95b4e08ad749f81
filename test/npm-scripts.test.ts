import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Emulator, startEmulator } from './emulator/index.ts';
import { closedPort } from './helpers/env.ts';
import { isListening, NpmScript, occupyPort } from './helpers/npm-script.ts';
import { eventually, REDIS_URL, testPrefix } from './redis/fixture.ts';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
});
afterAll(async () => {
  await emulator.close();
});

/** The settings a user puts in .env: the emulator as Bedrock, keys, a port. */
function userEnv(port: number, extra: Record<string, string> = {}) {
  return {
    PORT: String(port),
    HOST: '127.0.0.1',
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: emulator.url,
    AWS_ACCESS_KEY_ID: 'AKIDNPMTEST',
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

describe('a port that is taken', () => {
  it.each<{
    name: string;
    script: string[];
    env: (port: number) => Record<string, string>;
    line: (port: number) => string;
  }>([
    {
      name: 'npm start',
      script: ['start'],
      env: () => ({}),
      line: (port) =>
        `agentgate cannot listen on 127.0.0.1:${port}: another process is using that port. Stop it, or pick another port: PORT=${port + 1} npm start`,
    },
    {
      name: 'npm run worker',
      script: ['run', 'worker'],
      // The port it listens on is its metrics listener's.
      env: (port) => ({
        REDIS_URL,
        REDIS_KEY_PREFIX: testPrefix(),
        WORKER_METRICS_PORT: String(port),
      }),
      line: (port) =>
        `the agentgate worker cannot listen on 127.0.0.1:${port}: another process is using that port. Stop it, or pick another port: WORKER_METRICS_PORT=${port + 1} npm run worker`,
    },
  ])(
    '$name exits 1 with one plain line naming the port and how to pick another',
    async ({ script, env, line }) => {
      const taken = await occupyPort();
      const npm = new NpmScript(script, userEnv(taken.port, env(taken.port)));
      try {
        const { code } = await npm.exited;
        await npm.closed;
        expect(code, npm.output).toBe(1);
        const lines = npm.stderr.trim().split('\n');
        expect(lines, npm.output).toEqual([line(taken.port)]);
        expect(npm.output).not.toContain('    at ');
        expect(npm.output).not.toContain(' ready');
      } finally {
        npm.kill();
        await taken.close();
      }
    },
  );
});

describe('SIGTERM to the npm process', () => {
  it.each<{
    name: string;
    script: string[];
    ready: string;
    env: Record<string, string>;
    listens: boolean;
  }>([
    { name: 'npm start', script: ['start'], ready: 'agentgate ready', env: {}, listens: true },
    {
      name: 'npm run worker',
      script: ['run', 'worker'],
      ready: 'agentgate worker ready',
      // It listens on WORKER_METRICS_PORT, for its metrics.
      env: { REDIS_URL, REDIS_KEY_PREFIX: testPrefix() },
      listens: true,
    },
    {
      name: 'npm run emulator',
      script: ['run', 'emulator'],
      ready: 'Bedrock emulator listening',
      env: {},
      listens: true,
    },
  ])(
    '$name: leaves no process of the tree and frees the port',
    async ({ name, script, ready, env, listens }) => {
      const port = await closedPort();
      const npm = new NpmScript(
        script,
        userEnv(port, { ...env, EMULATOR_PORT: String(port), WORKER_METRICS_PORT: String(port) }),
      );
      try {
        await npm.waitFor(ready);
        if (listens) expect(await isListening(port)).toBe(true);
        process.kill(npm.pid, 'SIGTERM');
        await eventually(() => !npm.groupAlive(), 5_000, `every process of ${name} gone`);
        expect(await isListening(port)).toBe(false);
      } finally {
        npm.kill();
      }
    },
  );
});
