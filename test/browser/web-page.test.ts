import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserRig } from '../helpers/browser.ts';
import {
  openWebPage,
  type PageOptions,
  saveScreenshot,
  send,
  shownConversation,
  turnEnded,
  turnText,
  WAIT,
} from '../helpers/web-page.ts';

/**
 * The web page's features in Debian's Chromium against the real gateway and the Bedrock
 * emulator: markdown answers, code blocks (highlighting, Copy), drawing once per animation
 * frame, folding tool cards, token and cost footers across a reload, 390 px, dark mode, and
 * two tabs on one conversation. Screenshots go to test-results/screenshots/.
 */

const rig = useBrowserRig();

const openPage = (options: PageOptions = {}) =>
  openWebPage((o) => rig.newContext(o), rig.gw.url, rig.pageErrors, options);

/** Records every CSP violation of the page (read with `violations(page)`). */
async function watchCsp(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __violations: string[] }).__violations = seen;
    document.addEventListener('securitypolicyviolation', (e) => {
      seen.push(`${e.effectiveDirective} ${e.blockedURI}`);
    });
  });
}
const violations = (page: Page) =>
  page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);

const MARKDOWN = [
  '# Heading',
  '',
  'Some **bold**, _emphasis_, `inline code`, a [link](https://example.com/docs) and a',
  '[bad one](javascript:alert(1)).',
  '',
  '- first',
  '- second',
  '',
  '| name | qty |',
  '|------|-----|',
  '| pens | 3   |',
  '',
  '```ts',
  'const answer: number = 42; // the answer',
  '```',
  '',
  'Raw <b onclick="window.pwned=1">html</b> <img src=x onerror="window.pwned=2"> stays text.',
  '',
  '![a picture](https://images.example/cat.png)',
].join('\n');

describe('markdown answers', () => {
  it('renders markdown, sanitized, with no inline style and no CSP violation', async () => {
    const page = await openPage({ before: watchCsp });
    rig.gw.emulator.enqueue({ blocks: [{ text: MARKDOWN }], chunkChars: 7 });
    await send(page, 'format something');
    const turn = await turnEnded(page);
    const text = turn.locator('.text.markdown');
    expect(await text.locator('h1').textContent()).toBe('Heading');
    expect(await text.locator('strong').first().textContent()).toBe('bold');
    expect(await text.locator('em').textContent()).toBe('emphasis');
    expect(await text.locator('p code').first().textContent()).toBe('inline code');
    expect(await text.locator('ul li').allTextContents()).toEqual(['first', 'second']);
    expect(await text.locator('table td').allTextContents()).toEqual(['pens', '3']);
    const link = text.locator('a', { hasText: 'link' });
    expect(await link.getAttribute('href')).toBe('https://example.com/docs');
    expect(await link.getAttribute('target')).toBe('_blank');
    expect(await link.getAttribute('rel')).toContain('noopener');
    // A javascript: link keeps its words and loses its address.
    expect(await text.locator('a', { hasText: 'bad one' }).getAttribute('href')).toBeNull();
    // Raw HTML is shown as the text it is; an image is a link to it, never loaded.
    expect(await text.textContent()).toContain(
      'Raw <b onclick="window.pwned=1">html</b> <img src=x onerror="window.pwned=2"> stays text.',
    );
    expect(await text.locator('a', { hasText: 'a picture' }).getAttribute('href')).toBe(
      'https://images.example/cat.png',
    );
    expect(await page.locator('#transcript img, #transcript b, #transcript script').count()).toBe(
      0,
    );
    expect(await page.locator('#transcript [style], #transcript [onclick]').count()).toBe(0);
    expect(await page.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined();
    expect(await violations(page)).toEqual([]);
  });

  it('highlights code blocks and copies one with its Copy button', async () => {
    const page = await openPage({
      context: { permissions: ['clipboard-read', 'clipboard-write'] },
    });
    const code = 'def double(x: int) -> int:\n    return x * 2  # twice';
    rig.gw.emulator.enqueue({
      blocks: [
        {
          text: `A function:\n\n\`\`\`python\n${code}\n\`\`\`\n\nAnd JSON:\n\n\`\`\`\n{"a": 1}\n\`\`\``,
        },
      ],
    });
    await send(page, 'show code');
    const turn = await turnEnded(page);
    const blocks = turn.locator('.code-block');
    expect(await blocks.count()).toBe(2);
    const python = blocks.first();
    expect(await python.locator('.code-lang').textContent()).toBe('Python');
    expect(await python.locator('pre').textContent()).toBe(code);
    // highlight.js marks tokens with classes only.
    expect(await python.locator('.hljs-keyword').allTextContents()).toContain('def');
    expect(await python.locator('.hljs-comment').textContent()).toBe('# twice');
    // A block without a language is plain text.
    expect(await blocks.nth(1).locator('.code-lang').textContent()).toBe('text');
    expect(await blocks.nth(1).locator('[class^="hljs-"]').count()).toBe(0);

    const copy = python.locator('button.copy');
    expect(await copy.textContent()).toBe('Copy');
    await copy.click();
    await expect.poll(() => copy.textContent(), WAIT).toBe('Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(code);
    await expect.poll(() => copy.textContent(), { timeout: 3_000 }).toBe('Copy');
  });

  it('draws streamed tokens once per animation frame, not once per token', async () => {
    // Animation frames run only when the test says, so what a token alone draws shows.
    const tokens: string[] = [];
    const page = await openPage({
      before: async (p) => {
        p.on('websocket', (ws) =>
          ws.on('framereceived', ({ payload }) => {
            const frame = JSON.parse(String(payload)) as { type: string; text?: string };
            if (frame.type === 'token') tokens.push(frame.text ?? '');
          }),
        );
        await p.addInitScript(() => {
          const frames: FrameRequestCallback[] = [];
          const w = window as unknown as {
            __frames: FrameRequestCallback[];
            __runFrames(): number;
          };
          w.__frames = frames;
          window.requestAnimationFrame = (callback) => frames.push(callback);
          w.__runFrames = () => {
            const due = frames.splice(0);
            for (const callback of due) callback(performance.now());
            return due.length;
          };
        });
      },
    });
    const text = 'One **bold** claim, then some more words to stream in small pieces.';
    rig.gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 3, hangAfterEvents: 12 });
    await send(page, 'stream slowly');
    await expect.poll(() => tokens.length, WAIT).toBeGreaterThanOrEqual(5);
    const markdown = page.locator('#transcript .turn.assistant .markdown');
    // Tokens arrived; none was drawn yet, and one frame is asked for all of them.
    expect(await markdown.textContent()).toBe('');
    expect(
      await page.evaluate(() => (window as unknown as { __frames: unknown[] }).__frames.length),
    ).toBe(1);
    const ran = await page.evaluate(() =>
      (window as unknown as { __runFrames(): number }).__runFrames(),
    );
    expect(ran).toBe(1);
    const drawn = tokens.join('');
    expect((await markdown.textContent())?.replaceAll('*', '')).toBe(drawn.replaceAll('*', ''));
    await page.locator('#stop').click();
    await turnEnded(page);
  });
});

describe('tool cards', () => {
  it('fold once the call is done, open on a click, and stay folded after a reload', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue(
      {
        blocks: [
          { text: 'Checking. ' },
          { toolUse: { name: 'calculator', input: { expression: '6*7' } } },
        ],
        delayMs: 30,
      },
      { blocks: [{ toolUse: { name: 'calculator', input: { expression: '1/0' } } }] },
      { blocks: [{ text: 'Done.' }] },
    );
    // While it runs, the card is open: record each card as it is added.
    await page.evaluate(() => {
      const added: boolean[] = [];
      (window as unknown as { __opened: boolean[] }).__opened = added;
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.addedNodes) {
            if (node instanceof HTMLDetailsElement && node.classList.contains('tool')) {
              added.push(node.open);
            }
          }
        }
      }).observe(document.getElementById('transcript')!, { subtree: true, childList: true });
    });
    await send(page, 'two sums');
    const turn = await turnEnded(page);
    expect(
      await page.evaluate(() => (window as unknown as { __opened: boolean[] }).__opened),
    ).toEqual([true, true]);
    const [done, failed] = [turn.locator('.tool').first(), turn.locator('.tool').nth(1)];
    expect(await done.getAttribute('data-state')).toBe('done');
    expect(await done.evaluate((d: HTMLDetailsElement) => d.open)).toBe(false);
    expect(await done.locator('.tool-preview').textContent()).toBe('{"expression":"6*7"}');
    expect(await done.locator('.tool-output').isVisible()).toBe(false);
    // A call that failed stays open, to be read.
    expect(await failed.getAttribute('data-state')).toBe('error');
    expect(await failed.evaluate((d: HTMLDetailsElement) => d.open)).toBe(true);

    await done.locator('summary').click();
    expect(await done.locator('.tool-output').isVisible()).toBe(true);
    expect(await done.locator('.tool-output').textContent()).toBe('42');
    await done.locator('summary').click();
    expect(await done.locator('.tool-output').isVisible()).toBe(false);

    await page.reload();
    await expect.poll(() => page.locator('#transcript .tool').count(), WAIT).toBe(2);
    const reloaded = page.locator('#transcript .tool').first();
    expect(await reloaded.evaluate((d: HTMLDetailsElement) => d.open)).toBe(false);
    expect(await reloaded.locator('.tool-output').textContent()).toBe('42');
    await reloaded.locator('summary').click();
    expect(await reloaded.locator('.tool-input').isVisible()).toBe(true);
  });
});

/** "12 in · 5 out tokens" (and a cost, when shown) of a footer, without the duration. */
function spent(footer: string | null): string {
  return (footer ?? '').replace(/ · [\d.]+ (ms|s)$/, '');
}

describe('turn footers', () => {
  it("show each turn's tokens, and the same after a reload", async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({
      blocks: [{ text: 'First.' }],
      usage: { inputTokens: 1204, outputTokens: 87 },
    });
    await send(page, 'one');
    await turnEnded(page);
    rig.gw.emulator.enqueue({
      blocks: [{ text: 'Second.' }],
      usage: { inputTokens: 30, outputTokens: 4 },
    });
    await send(page, 'two');
    await turnEnded(page);
    const live = await page.locator('.turn-meta').allTextContents();
    // Priced at the default model's list price, $3 in and $15 out per million tokens.
    const footers = ['1,204 in · 87 out tokens · $0.0049', '30 in · 4 out tokens · $0.00015'];
    expect(live.map(spent)).toEqual(footers);
    expect(live[0]).toMatch(/ · \d+ ms$|[\d.]+ s$/);

    await page.reload();
    await expect.poll(() => page.locator('.turn-meta').count(), WAIT).toBe(2);
    expect(await page.locator('.turn-meta').allTextContents()).toEqual(footers);
  });

  it('show the input read from the prompt cache, live and after a reload', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({
      blocks: [{ text: 'Cached.' }],
      usage: {
        inputTokens: 100,
        outputTokens: 200,
        cacheReadInputTokens: 900,
        cacheWriteInputTokens: 0,
      },
    });
    await send(page, 'how much?');
    const turn = await turnEnded(page);
    const footer = '1,000 in (900 cached) · 200 out tokens · $0.0060';
    expect(spent(await turn.locator('.turn-meta').textContent())).toBe(footer);
    await page.reload();
    await expect.poll(() => page.locator('.turn-meta').textContent()).toBe(footer);
  });
});

describe('layout', () => {
  /** One turn with long unbroken words, a wide code line and a tool call. */
  async function wideTurn(page: Page): Promise<void> {
    rig.gw.emulator.enqueue(
      {
        blocks: [{ toolUse: { name: 'calculator', input: { expression: `${'1+'.repeat(60)}1` } } }],
      },
      {
        blocks: [
          {
            text: `A long word: ${'x'.repeat(120)}\n\n\`\`\`\n${'wide_code_line = 1; '.repeat(12)}\n\`\`\`\n\n| a | b | c | d | e | f |\n|---|---|---|---|---|---|\n| ${'cell '.repeat(8)} | 2 | 3 | 4 | 5 | 6 |`,
          },
        ],
      },
    );
    await send(page, `a question with a long word ${'y'.repeat(80)}`);
    await turnEnded(page);
  }

  const horizontalOverflow = (page: Page) =>
    page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

  it('is usable at 390 px: no horizontal scrolling, the list in a drawer', async () => {
    const page = await openPage({ viewport: { width: 390, height: 844 } });
    await wideTurn(page);
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    expect(await page.evaluate(() => document.body.scrollWidth)).toBeLessThanOrEqual(390);
    // Every control fits on the screen.
    for (const id of ['#message', '#send', '#stop', '#model', '#agent', '#sidebar-toggle']) {
      const box = await page.locator(id).boundingBox();
      expect(box, id).not.toBeNull();
      expect(box!.x, id).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width, id).toBeLessThanOrEqual(390);
    }
    await saveScreenshot(page, 'web-390');

    // The conversation list is a drawer: hidden until the ☰ button opens it.
    const sidebar = page.locator('#sidebar');
    expect(await sidebar.isVisible()).toBe(false);
    await page.locator('#sidebar-toggle').click();
    await expect.poll(() => sidebar.isVisible(), WAIT).toBe(true);
    expect(await page.locator('#sidebar-toggle').getAttribute('aria-expanded')).toBe('true');
    const current = page.locator('.conversation-open[aria-current="true"]');
    await expect.poll(() => current.textContent(), WAIT).toContain('a question with a long word');
    await expect.poll(() => sidebar.evaluate((n) => n.getBoundingClientRect().left), WAIT).toBe(0);
    await saveScreenshot(page, 'web-390-drawer');
    expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
    await page.keyboard.press('Escape');
    await expect.poll(() => sidebar.isVisible(), WAIT).toBe(false);
    // New conversation from the drawer closes it.
    await page.locator('#sidebar-toggle').click();
    await page.locator('#new-conversation').click();
    await expect.poll(() => sidebar.isVisible(), WAIT).toBe(false);
    await expect.poll(() => page.locator('#transcript .turn').count(), WAIT).toBe(0);
  });

  it('follows the system dark mode, and is light otherwise', async () => {
    const background = (page: Page) =>
      page.evaluate(() => {
        const rgb = getComputedStyle(document.body).backgroundColor.match(/\d+/g)!.map(Number);
        // Relative luminance, roughly: 0 is black, 1 is white.
        return (0.2126 * rgb[0]! + 0.7152 * rgb[1]! + 0.0722 * rgb[2]!) / 255;
      });
    const dark = await openPage({ context: { colorScheme: 'dark' } });
    await wideTurn(dark);
    expect(await background(dark)).toBeLessThan(0.2);
    const text = await dark.evaluate(() => getComputedStyle(document.body).color);
    expect(text).not.toBe('rgb(0, 0, 0)');
    await saveScreenshot(dark, 'web-dark');
    await dark.setViewportSize({ width: 390, height: 844 });
    await saveScreenshot(dark, 'web-390-dark');

    const light = await openPage({ context: { colorScheme: 'light' } });
    await wideTurn(light);
    expect(await background(light)).toBeGreaterThan(0.8);
    await saveScreenshot(light, 'web-light');
  });
});

describe('two tabs on one conversation', () => {
  it('both show the same answer as it streams, whichever tab asked', async () => {
    const a = await openPage();
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Hello.' }] });
    await send(a, 'start');
    await turnEnded(a);
    const id = shownConversation(a);
    const b = await openPage({ hash: `#${id}` });
    await expect.poll(() => b.locator('.turn.user').allTextContents(), WAIT).toEqual(['start']);

    // Tab B records how tab A's answer grows in it.
    await b.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { __lengths: number[] }).__lengths = seen;
      const root = document.getElementById('transcript')!;
      new MutationObserver(() => {
        const turn = [...root.querySelectorAll('.turn.assistant')].at(-1);
        const length = turn?.querySelector('.text')?.textContent?.length ?? 0;
        if (length && seen.at(-1) !== length) seen.push(length);
      }).observe(root, { subtree: true, childList: true, characterData: true });
    });
    const text = 'Both tabs watch this answer grow, piece by piece, in the same order.';
    rig.gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 3, delayMs: 80 });
    await send(a, 'stream to both');
    // B sees A's question and the running turn: it may not chat, and may stop it.
    await expect
      .poll(() => b.locator('.turn.user').last().textContent(), WAIT)
      .toBe('stream to both');
    await expect.poll(() => b.locator('#stop').isEnabled(), WAIT).toBe(true);
    expect(await b.locator('#message').isDisabled()).toBe(true);
    for (const page of [a, b]) {
      await turnEnded(page);
      expect(await turnText(page)).toEqual([text]);
    }
    const lengths = await b.evaluate(
      () => (window as unknown as { __lengths: number[] }).__lengths,
    );
    expect(lengths.length, `lengths seen in tab B: ${lengths}`).toBeGreaterThanOrEqual(3);
    expect(lengths.at(-1)).toBe(text.length);

    // The other way round: B asks, A shows it.
    rig.gw.emulator.enqueue({ blocks: [{ text: 'From tab B.' }] });
    await send(b, 'from b');
    for (const page of [a, b]) {
      await expect
        .poll(() => page.locator('.turn.user').allTextContents())
        .toEqual(['start', 'stream to both', 'from b']);
      await expect.poll(() => turnText(page), WAIT).toEqual(['From tab B.']);
      await turnEnded(page);
    }
    expect(shownConversation(b)).toBe(id);
    await saveScreenshot(b, 'web-two-tabs');
  });
});
