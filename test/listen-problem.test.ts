import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { listenProblem } from '../src/listen-problem.ts';
import { occupyPort } from './helpers/npm-script.ts';

const context = { what: 'agentgate', variable: 'PORT', command: 'npm start' };

/** The error a real listen on `host:port` fails with. */
function listenError(port: number, host: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', resolve);
    server.listen(port, host, () => server.close(() => reject(new Error('it listened'))));
  });
}

describe('listenProblem', () => {
  it('names a taken port and the command to run with the next one', async () => {
    const taken = await occupyPort();
    try {
      const error = await listenError(taken.port, '127.0.0.1');
      expect(listenProblem(error, context)).toBe(
        `agentgate cannot listen on 127.0.0.1:${taken.port}: another process is using that port. Stop it, or pick another port: PORT=${taken.port + 1} npm start`,
      );
    } finally {
      await taken.close();
    }
  });

  it('says that HOST is not an address of this machine', async () => {
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const error = await listenError(3000, '192.0.2.1');
    expect(listenProblem(error, context)).toMatch(
      /^agentgate cannot listen on 192\.0\.2\.1:3000: 192\.0\.2\.1 is not an address of this machine\. Set HOST/,
    );
  });

  it('says that a port below 1024 needs privileges', () => {
    // The tests may run as root, who may listen anywhere: the error is built as Node builds it.
    const error = Object.assign(new Error('listen EACCES: permission denied 127.0.0.1:80'), {
      code: 'EACCES',
      address: '127.0.0.1',
      port: 80,
    });
    expect(listenProblem(error, { ...context, command: 'npm run demo' })).toBe(
      'agentgate may not listen on 127.0.0.1:80: ports below 1024 need privileges. Pick another port: PORT=81 npm run demo',
    );
  });

  it('leaves other errors to the caller', () => {
    expect(listenProblem(new Error('boom'), context)).toBeUndefined();
    expect(listenProblem(undefined, context)).toBeUndefined();
    expect(
      listenProblem(Object.assign(new Error('x'), { code: 'EMFILE' }), context),
    ).toBeUndefined();
  });
});
