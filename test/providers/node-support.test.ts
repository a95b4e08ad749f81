import { afterEach, describe, expect, it } from 'vitest';
import { replaceSdkNodeWarning } from '../../src/providers/bedrock/node-support.ts';
import { withGateway } from '../helpers/gateway.ts';

const SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';

describe('the AWS SDK Node.js version warning', () => {
  const saved = process.env[SWITCH];
  afterEach(() => {
    if (saved === undefined) delete process.env[SWITCH];
    else process.env[SWITCH] = saved;
  });

  it('is not emitted during a first chat, on Node 20 as on newer', async () => {
    delete process.env[SWITCH];
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      await withGateway({}, async (gw) => {
        const client = await gw.connect();
        gw.emulator.enqueue({ blocks: [{ text: 'hello' }] });
        const frames = await client.chat('hi');
        expect(frames.at(-1)).toMatchObject({ type: 'turn-end', stopReason: 'end_turn' });
      });
      // process.emitWarning delivers on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.message).filter((m) => /AWS SDK/.test(m))).toEqual([]);
  });

  it('is replaced on Node 20 by one line, through the SDK switch', () => {
    const env: Record<string, string | undefined> = {};
    const notice = replaceSdkNodeWarning('v20.19.0', env);
    expect(env[SWITCH]).toBe('true');
    expect(notice).toBe(
      'Node.js v20.19.0: AWS SDK releases after the first week of January 2027 need Node.js 22 or newer; agentgate supports Node 20 until then',
    );
  });

  it('comes back when the environment sets the switch to false', () => {
    const env: Record<string, string | undefined> = { [SWITCH]: 'false' };
    expect(replaceSdkNodeWarning('v20.19.0', env)).toBeDefined();
    expect(env[SWITCH]).toBe('false');
  });

  it('is left alone on Node 22 and newer', () => {
    for (const version of ['v22.12.0', 'v24.1.0']) {
      const env: Record<string, string | undefined> = {};
      expect(replaceSdkNodeWarning(version, env)).toBeUndefined();
      expect(env).toEqual({});
    }
  });
});
