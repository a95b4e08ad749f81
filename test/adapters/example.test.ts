import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

// examples/ai-sdk/chat.ts, run as its README says, against a gateway set up as
// `npm run demo` sets it up (the emulator, the notes tool that needs approval), with auth.

const run = promisify(execFile);
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({
    TOOL_MODULES: 'examples/tools/notes.ts',
    AUTH_API_KEYS: 'key-alice:alice',
  });
});
afterAll(async () => {
  await gw.close();
});

async function chat(question: string) {
  const { stdout } = await run(
    process.execPath,
    ['--import', 'tsx', 'examples/ai-sdk/chat.ts', question],
    {
      env: {
        PATH: process.env.PATH ?? '',
        AGENTGATE_URL: gw.url,
        AGENTGATE_TOKEN: 'key-alice',
      },
      timeout: 60_000,
    },
  );
  return stdout;
}

describe('examples/ai-sdk/chat.ts', () => {
  it('streams an answer with its tool call', async () => {
    const out = await chat('what is (12+30)*2?');
    expect(out).toContain('[calculator: output-available] → 84');
    expect(out).toContain('The answer is 84.');
    expect(out).toMatch(/\(end_turn; usage \{"inputTokens":\d+/);
  }, 60_000);

  it('approves a tool that asks, and shows the rest of the turn once', async () => {
    const out = await chat('save a note: buy milk');
    expect(out).toContain('[save_note: approval-requested]');
    expect(out).toContain('[save_note: output-available] → Saved note');
    expect(out).toContain('I saved your note.');
    expect(out.split('I will save that note once you approve it.')).toHaveLength(2);
  }, 60_000);
});
