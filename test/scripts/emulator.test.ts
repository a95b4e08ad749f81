import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { closedPort } from '../helpers/env.ts';
import { NpmScript } from '../helpers/npm-script.ts';

const ALLOWED = 'us.anthropic.claude-sonnet-4-20250514-v1:0';

/** `npm run emulator` on a free port with the given quotas; the caller stops it. */
async function launch(quotas: string) {
  const port = await closedPort();
  const npm = new NpmScript(['run', 'emulator'], {
    EMULATOR_PORT: String(port),
    EMULATOR_CONCURRENCY_QUOTAS: quotas,
  });
  return { npm, url: `http://127.0.0.1:${port}` };
}

describe('npm run emulator with EMULATOR_CONCURRENCY_QUOTAS', () => {
  it('throttles models over their quota, `*` for every model without its own', async () => {
    const { npm, url } = await launch(`*=0, ${ALLOWED}=3`);
    const bedrock = new BedrockRuntimeClient({
      endpoint: url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      await npm.waitFor('Bedrock emulator listening');
      expect(npm.stdout).toContain('Concurrency quota: 0 request(s) in flight for each model.');
      expect(npm.stdout).toContain(`Concurrency quota: 3 request(s) in flight for ${ALLOWED}.`);
      const messages = [{ role: 'user' as const, content: [{ text: 'hi' }] }];
      const answer = await bedrock.send(new ConverseCommand({ modelId: ALLOWED, messages }));
      expect(answer.output?.message?.content?.[0]?.text).toMatch(/^You said/);
      const throttled = await bedrock
        .send(new ConverseCommand({ modelId: 'amazon.nova-lite-v1:0', messages }))
        .then(
          () => undefined,
          (error: Error) => error,
        );
      expect(throttled?.name).toBe('ThrottlingException');
    } finally {
      bedrock.destroy();
      npm.kill();
    }
  });

  it('exits 1 with one plain line when the value cannot be read', async () => {
    const { npm } = await launch('*=two');
    try {
      expect((await npm.exited).code, npm.output).toBe(1);
      await npm.closed;
      expect(npm.stderr.trim().split('\n'), npm.output).toEqual([
        'EMULATOR_CONCURRENCY_QUOTAS must be model=max pairs separated by commas, as in "*=4", not "*=two".',
      ]);
    } finally {
      npm.kill();
    }
  });
});
