import { describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/env.ts';
import { isListening, NpmScript, occupyPort } from '../helpers/npm-script.ts';
import { eventually } from '../redis/fixture.ts';

/** `npm run demo` on the given ports; the caller stops it. */
function demo(port: number, emulatorPort: number): NpmScript {
  return new NpmScript(['run', 'demo'], {
    PORT: String(port),
    EMULATOR_PORT: String(emulatorPort),
  });
}

describe('npm run demo', () => {
  it.each([
    { taken: 'PORT', what: 'The demo' },
    { taken: 'EMULATOR_PORT', what: "The demo's Bedrock emulator" },
  ])('exits 1 saying how to pick another port when $taken is taken', async ({ taken, what }) => {
    const held = await occupyPort();
    const free = await closedPort();
    const npm = taken === 'PORT' ? demo(held.port, free) : demo(free, held.port);
    try {
      expect((await npm.exited).code, npm.output).toBe(1);
      await npm.closed;
      expect(npm.stderr.trim().split('\n'), npm.output).toEqual([
        `${what} cannot listen on 127.0.0.1:${held.port}: another process is using that port. Stop it, or pick another port: ${taken}=${held.port + 1} npm run demo`,
      ]);
      expect(await isListening(free)).toBe(false);
    } finally {
      npm.kill();
      await held.close();
    }
  });

  it('serves npm run loadtest out of the box, warns of no Node version, and stops on SIGTERM', async () => {
    const port = await closedPort();
    const npm = demo(port, await closedPort());
    try {
      await npm.waitFor('agentgate demo is running');
      const load = new NpmScript(
        [
          'run',
          'loadtest',
          '--',
          '--url',
          `ws://127.0.0.1:${port}/v1/ws`,
          '--clients',
          '50',
          '--turns',
          '1',
          '--json',
        ],
        {},
      );
      const { code } = await load.exited;
      await load.closed;
      const summary = JSON.parse(load.stdout.slice(load.stdout.indexOf('{')));
      expect(summary, load.output).toMatchObject({
        connected: 50,
        turnsPlanned: 50,
        turnsCompleted: 50,
        errors: {},
      });
      expect(code).toBe(0);

      process.kill(npm.pid, 'SIGTERM');
      await eventually(() => !npm.groupAlive(), 8_000, 'the demo gone');
      expect(await isListening(port)).toBe(false);
      expect(npm.output).not.toMatch(/NodeVersionSupportWarning|Warning:/);
    } finally {
      npm.kill();
    }
  }, 60_000);
});
