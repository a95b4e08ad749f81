import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/docs.ts';

// `agentgate/client` as users get it: built by `npm run build:client` (which `prepare`
// runs on `npm ci`), found through the package's `exports` map by Node's own resolver and
// by TypeScript's, with nothing to import at run time.

const run = promisify(execFile);
const dist = path.join(repoRoot, 'dist', 'client');

beforeAll(async () => {
  await run('npm', ['run', 'build:client'], { cwd: repoRoot });
}, 120_000);

describe('the agentgate/client package export', () => {
  it('is what Node resolves and imports by name from the repository', async () => {
    const script = `
      const url = import.meta.resolve('agentgate/client');
      const m = await import('agentgate/client');
      console.log(JSON.stringify({ url, names: Object.keys(m).sort() }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
    });
    const { url, names } = JSON.parse(stdout) as { url: string; names: string[] };
    expect(url).toBe(`file://${path.join(dist, 'index.js')}`);
    expect(names).toEqual(
      expect.arrayContaining(['AgentgateError', 'Client', 'backoffDelay', 'connect']),
    );
  });

  it('imports nothing but its own files at run time (no Node module, no dependency)', async () => {
    const files = (await readdir(dist)).filter((f) => f.endsWith('.js'));
    expect(files).toContain('index.js');
    for (const file of files) {
      const code = await readFile(path.join(dist, file), 'utf8');
      const { importedFiles } = ts.preProcessFile(code, true, true);
      for (const { fileName } of importedFiles) expect(fileName, file).toMatch(/^\.\/[\w-]+\.js$/);
    }
  });

  it('gives TypeScript its types through the exports map', async () => {
    const pkg = JSON.parse(await readFile(path.join(repoRoot, 'package.json'), 'utf8'));
    expect(pkg.exports['./client']).toEqual({
      types: './dist/client/index.d.ts',
      import: './dist/client/index.js',
    });
    // A consumer inside the package resolves it by name (self-reference), as users do.
    const dir = path.join(repoRoot, 'tmp', `client-consumer-${process.pid}`);
    await mkdir(dir, { recursive: true });
    try {
      await writeFile(
        path.join(dir, 'consumer.ts'),
        `import { connect, type Turn, type TurnEndFrame } from 'agentgate/client';
export async function ask(url: string): Promise<TurnEndFrame> {
  const client = await connect({ url });
  const turn: Turn = client.chat('hi');
  for await (const frame of turn) if (frame.type === 'token') frame.text.toUpperCase();
  return turn.end;
}
// @ts-expect-error: chat takes a string
connect({ url: 'ws://x' }).then((c) => c.chat(42));
`,
      );
      await writeFile(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            lib: ['ES2022', 'DOM'],
            types: [],
            strict: true,
            skipLibCheck: true,
            noEmit: true,
          },
          files: ['consumer.ts'],
        }),
      );
      const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      const result = await run(process.execPath, [tsc, '-p', dir]).catch(
        (error: { stdout: string }) => error,
      );
      expect(result.stdout).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
