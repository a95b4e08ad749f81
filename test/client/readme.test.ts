import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot, section } from '../helpers/docs.ts';
import { withGateway } from '../helpers/gateway.ts';

const run = promisify(execFile);

// The README's example is code that runs: here, against a real gateway (with the emulator's
// demo script), importing the library's source in place of the built package.
describe("the README's client example", () => {
  it('runs: it streams the answer, names the tool and prints how the turn ended', async () => {
    const readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(section(readme, 'Client library'))?.[1];
    expect(example).toBeDefined();
    expect(example!.trim().split('\n').length).toBeLessThanOrEqual(12);
    const dir = path.join(repoRoot, 'tmp', `readme-client-${process.pid}`);
    await mkdir(dir, { recursive: true });
    try {
      await withGateway({}, async (gw) => {
        const code = example!
          .replace("'agentgate/client'", `'${path.join(repoRoot, 'src/client/index.ts')}'`)
          .replace("'ws://127.0.0.1:3000/v1/ws'", `'${gw.wsUrl}'`);
        expect(code).toContain(gw.wsUrl);
        const file = path.join(dir, 'example.ts');
        await writeFile(file, code);
        const { stdout } = await run(process.execPath, ['--import', 'tsx', file], {
          cwd: repoRoot,
          timeout: 60_000,
        });
        expect(stdout).toBe('Let me calculate that. [calculator] The answer is 84.\nend_turn\n');
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
