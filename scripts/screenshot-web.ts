/**
 * `npm run screenshot:web`: draws docs/images/web-page.png, the README's picture of the web
 * page. It builds the page, starts a gateway on the Bedrock emulator (random ports), makes a
 * few conversations with scripted answers (a tool call, markdown with a code block), and
 * photographs the page in Debian's Chromium (CHROMIUM_PATH to use another).
 *
 *   npm run screenshot:web                  # docs/images/web-page.png, light, 1280×800
 *   npm run screenshot:web -- --dark out.png
 */

import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { Client } from '../src/client/index.ts';
import { startEmulator } from '../test/emulator/index.ts';
import { startGateway } from '../test/helpers/gateway.ts';
import { buildWebPage } from './build-web.ts';

const args = process.argv.slice(2);
const dark = args.includes('--dark');
const out = path.resolve(args.find((arg) => !arg.startsWith('--')) ?? 'docs/images/web-page.png');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const CODE_ANSWER = [
  'Here it is as a function, with the same result:',
  '',
  '```python',
  'def double_sum(a: int, b: int) -> int:',
  '    """Add two numbers, then double the sum."""',
  '    return (a + b) * 2',
  '',
  'print(double_sum(12, 30))  # 84',
  '```',
  '',
  'It **adds first**, then multiplies, as the brackets in `(12+30)*2` say.',
].join('\n');

async function send(page: Page, text: string): Promise<void> {
  await page.locator('#message:enabled').waitFor();
  await page.locator('#message').fill(text);
  await page.locator('#message').press('Enter');
  await page.waitForFunction(
    (n) => document.querySelectorAll('#transcript .turn.assistant .turn-meta').length >= n,
    await page.locator('#transcript .turn.user').count(),
  );
}

await buildWebPage();
const emulator = await startEmulator({ paceMs: 0 });
const gw = await startGateway({}, emulator);
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox'],
});
try {
  // Earlier conversations, for the sidebar.
  for (const [question, answer] of [
    ['Which product sold best last month?', 'The **Trail Runner 2** sold best: 412 pairs.'],
    ['Plan three days in Kyoto', 'Day 1: Fushimi Inari at dawn, then Gion.'],
  ] as const) {
    const client = new Client({ url: gw.wsUrl, WebSocket });
    await client.opened;
    emulator.enqueue({ blocks: [{ text: answer }] });
    await client.chat(question).end;
    await client.close();
  }

  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    colorScheme: dark ? 'dark' : 'light',
  });
  const page = await context.newPage();
  await page.goto(`${gw.url}/`);
  await page.locator('#status', { hasText: /^Connected/ }).waitFor();
  emulator.enqueue(
    {
      blocks: [
        { text: 'Let me work that out. ' },
        { toolUse: { name: 'calculator', input: { expression: '(12+30)*2' } } },
      ],
    },
    { blocks: [{ text: '**(12 + 30) × 2 = 84.** The sum is 42, doubled.' }] },
  );
  await send(page, 'what is (12+30)*2?');
  emulator.enqueue({ blocks: [{ text: CODE_ANSWER }], chunkChars: 40 });
  await send(page, 'write that as a Python function');
  await page.locator('#message').blur();
  await page.screenshot({ path: out });
  console.log(`Saved ${path.relative(process.cwd(), out)}.`);
} finally {
  await browser.close();
  await gw.close();
  await emulator.close();
}
