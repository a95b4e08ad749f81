import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/protocol/errors.ts';
import { useBrowserRig } from '../helpers/browser.ts';
import { startGateway } from '../helpers/gateway.ts';
import { openWebPage, saveScreenshot, send, turnEnded, turnText } from '../helpers/web-page.ts';

/**
 * The web page (web/, built into dist/web) in Debian's Chromium, against the real gateway
 * and the Bedrock emulator: connecting, streaming, stopping, reloading, reconnecting.
 * A missing Chromium fails every test (CI installs it: .ci/run).
 */

const rig = useBrowserRig();

async function newPage(viewport = { width: 1100, height: 800 }): Promise<Page> {
  const context = await rig.newContext({ viewport });
  const page = await context.newPage();
  page.on('pageerror', (error) => rig.pageErrors.push(error));
  return page;
}

function openPage(
  options: { hash?: string; viewport?: { width: number; height: number }; base?: string } = {},
): Promise<Page> {
  return openWebPage((o) => rig.newContext(o), options.base ?? rig.gw.url, rig.pageErrors, options);
}

function slowReply(text: string) {
  return { blocks: [{ text }], chunkChars: 3, delayMs: 60 };
}

describe('the web client', () => {
  it('connects and lists the models with the default selected', async () => {
    const page = await openPage();
    const { models } = (await (await fetch(`${rig.gw.url}/v1/models`)).json()) as {
      models: { id: string; label: string; default: boolean }[];
    };
    const options = page.locator('#model option');
    await expect.poll(() => options.count()).toBe(models.length);
    const values = await page.evaluate<string[]>(
      `[...document.querySelectorAll('#model option')].map((o) => o.value)`,
    );
    expect(values).toEqual(models.map((m) => m.id));
    expect(await page.locator('#model').inputValue()).toBe(models.find((m) => m.default)!.id);
    expect(await page.locator('#model option').first().textContent()).toContain(models[0]!.label);
    expect(await page.locator('#message').isEnabled()).toBe(true);
    expect(await page.locator('#stop').isDisabled()).toBe(true);
  });

  it('streams the answer into the transcript token by token, then ends the turn', async () => {
    const page = await openPage();
    const text = 'Streaming works: one chunk after another, growing in place.';
    rig.gw.emulator.enqueue({ blocks: [{ text }], chunkChars: 4, delayMs: 40 });
    // Page code as text: the tests are typed for Node, without the DOM library.
    await page.evaluate(`{
      const seen = (window.lengths = []);
      const root = document.getElementById('transcript');
      new MutationObserver(() => {
        const turn = [...root.querySelectorAll('.turn.assistant')].at(-1);
        const length = turn?.querySelector('.text')?.textContent.length;
        if (length && seen.at(-1) !== length) seen.push(length);
      }).observe(root, { subtree: true, childList: true, characterData: true });
    }`);
    await send(page, 'stream please');
    await expect.poll(() => page.locator('.turn.user').last().textContent()).toBe('stream please');
    // The box stays disabled while the turn runs, and Stop is offered.
    await expect.poll(() => page.locator('#stop').isEnabled()).toBe(true);
    expect(await page.locator('#message').isDisabled()).toBe(true);
    await turnEnded(page);
    const lengths = await page.evaluate<number[]>('window.lengths');
    expect(lengths.length, `lengths seen: ${lengths}`).toBeGreaterThanOrEqual(5);
    expect([...lengths].sort((a, b) => a - b)).toEqual(lengths);
    expect(lengths.at(-1)).toBe(text.length);
    expect(await turnText(page)).toEqual([text]);
    expect(await page.locator('.turn-meta').last().textContent()).toMatch(/in · \d+ out tokens/);
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
    expect(await page.locator('#message').inputValue()).toBe('');
    expect(await page.locator('#stop').isDisabled()).toBe(true);
  });

  it('shows a tool call as a card with its input, output and duration', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue(
      {
        blocks: [
          { text: 'Let me calculate that. ' },
          { toolUse: { name: 'calculator', input: { expression: '6*7' } } },
        ],
        delayMs: 10,
      },
      { blocks: [{ text: '6 × 7 is 42.' }], delayMs: 10 },
    );
    await send(page, 'what is 6*7?');
    const turn = await turnEnded(page);
    const card = turn.locator('.tool');
    expect(await card.count()).toBe(1);
    expect(await card.getAttribute('data-state')).toBe('done');
    expect(await card.locator('.tool-name').textContent()).toBe('calculator');
    expect(JSON.parse((await card.locator('.tool-input').textContent())!)).toEqual({
      expression: '6*7',
    });
    expect(await card.locator('.tool-output').textContent()).toContain('42');
    expect(await card.locator('.tool-status').textContent()).toMatch(/done · \d+ ms/);
    // Text before the tool call sits above the card, the answer below it.
    expect(await turnText(page)).toEqual(['Let me calculate that. ', '6 × 7 is 42.']);
    await saveScreenshot(page, 'web-tool-card');

    await page.setViewportSize({ width: 360, height: 740 });
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth');
    expect(overflow, 'no horizontal scrolling at 360 px').toBeLessThanOrEqual(360);
    await saveScreenshot(page, 'web-tool-card-360');
    await page.emulateMedia({ colorScheme: 'dark' });
    await saveScreenshot(page, 'web-tool-card-360-dark');
  });

  it('stops a running turn with Stop, shows it cancelled and frees the box', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({
      blocks: [{ text: 'Thinking about it for a long while' }],
      hangAfterEvents: 4,
    });
    await send(page, 'take your time');
    await expect.poll(async () => (await turnText(page)).join('')).not.toBe('');
    await expect.poll(() => page.locator('#stop').isEnabled()).toBe(true);
    await page.locator('#stop').click();
    const turn = await turnEnded(page);
    expect(await turn.getAttribute('data-state')).toBe('cancelled');
    expect(await turn.locator('.turn-meta').textContent()).toContain('Cancelled');
    expect((await rig.gw.emulator.waitForAbort()).aborted).toBe(true);
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
    expect(await page.locator('#stop').isDisabled()).toBe(true);
    const stopped = (await turnText(page)).join('');

    // After a reload the stopped answer is still there, marked as stopped.
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    await expect.poll(async () => (await turnText(page)).join('')).toBe(stopped);
    const reloaded = page.locator('#transcript .turn.assistant').last();
    expect(await reloaded.getAttribute('data-state')).toBe('cancelled');
    expect(await reloaded.locator('.turn-meta').textContent()).toContain('Cancelled');

    rig.gw.emulator.enqueue({ blocks: [{ text: 'Back again.' }] });
    await send(page, 'still there?');
    await turnEnded(page);
    expect(await turnText(page)).toEqual(['Back again.']);
  });

  it('shows model output and user input that look like HTML as text', async () => {
    const page = await openPage();
    const evil =
      'Look: <img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>b</b>';
    rig.gw.emulator.enqueue({ blocks: [{ text: evil }], chunkChars: 5 });
    await send(page, '<img src=y onerror="window.pwned=3"> hi');
    await turnEnded(page);
    expect(await turnText(page)).toEqual([evil]);
    expect(await page.locator('.turn.user').last().textContent()).toBe(
      '<img src=y onerror="window.pwned=3"> hi',
    );
    expect(await page.locator('#transcript img, #transcript script, #transcript b').count()).toBe(
      0,
    );
    expect(await page.evaluate('window.pwned')).toBe(undefined);
  });

  it('keeps the conversation in the URL hash and shows its history after a reload', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue(
      { blocks: [{ toolUse: { name: 'calculator', input: { expression: '2+3' } } }] },
      { blocks: [{ text: 'It is 5.' }] },
    );
    await send(page, 'add 2 and 3');
    await turnEnded(page);
    const conversationId = decodeURIComponent(new URL(page.url()).hash.slice(1));
    expect(conversationId).toMatch(/^c_/);

    await page.reload();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    await expect.poll(() => page.locator('.turn.user').allTextContents()).toEqual(['add 2 and 3']);
    expect(await turnText(page)).toEqual(['It is 5.']);
    const card = page.locator('.turn.assistant .tool');
    expect(await card.locator('.tool-name').textContent()).toBe('calculator');
    expect(await card.locator('.tool-output').textContent()).toBe('5');
    expect(new URL(page.url()).hash).toBe(`#${conversationId}`);

    // The next chat goes on in the same conversation, with its history sent to the model.
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Still here.' }] });
    await send(page, 'and now?');
    await turnEnded(page);
    const last = rig.gw.emulator.requests.at(-1)!;
    expect(last.body?.messages?.length).toBeGreaterThanOrEqual(5);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['add 2 and 3', 'and now?']);
  });

  it('shows a turn that is still running after a reload, from its start, once', async () => {
    const page = await openPage();
    const text = 'This answer keeps streaming while the page reloads in the middle of it.';
    rig.gw.emulator.enqueue(slowReply(text));
    await send(page, 'long answer');
    await expect.poll(async () => (await turnText(page)).join('').length).toBeGreaterThan(6);
    await page.reload();
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    // Still running: the page knows it (Stop) and shows what streamed before the reload.
    await expect.poll(() => page.locator('#stop').isEnabled()).toBe(true);
    expect(await page.locator('#message').isDisabled()).toBe(true);
    await turnEnded(page);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['long answer']);
    expect(await turnText(page)).toEqual([text]);
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
  });

  it('reconnects after the socket drops and resumes the turn without gaps or repeats', async () => {
    const page = await openPage();
    const text = 'Resumed frames continue exactly where the dropped socket left off.';
    rig.gw.emulator.enqueue(slowReply(text));
    await send(page, 'keep going');
    await expect.poll(async () => (await turnText(page)).join('').length).toBeGreaterThan(6);
    for (const socket of rig.gw.app.websocketServer.clients) socket.terminate();
    await expect.poll(() => page.locator('#status').getAttribute('data-state')).not.toBe('online');
    await expect.poll(() => page.locator('#status').textContent()).toMatch(/^Connected/);
    await turnEnded(page);
    expect(await turnText(page)).toEqual([text]);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['keep going']);
  });

  it('shows an error turn with the code, its message and its hints', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({ error: 'AccessDeniedException' });
    await send(page, 'hello?');
    const turn = await turnEnded(page);
    const box = turn.locator('.error-box');
    expect(await box.getAttribute('data-code')).toBe('aws_access_denied');
    expect(await box.locator('.error-message').textContent()).toMatch(/denied/i);
    expect(await box.locator('.hints li').allTextContents()).toEqual([
      ...ERROR_CODES.aws_access_denied.hints,
    ]);
    expect(await turn.getAttribute('data-state')).toBe('error');
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
  });

  it('opens a fresh conversation when the hash names one that does not exist', async () => {
    const page = await openPage({ hash: '#c_doesnotexist' });
    await expect
      .poll(() => page.locator('#transcript .notice').textContent())
      .toContain('c_doesnotexist could not be opened');
    expect(new URL(page.url()).hash).toBe('');
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Fresh.' }] });
    await send(page, 'hi');
    await turnEnded(page);
    expect(new URL(page.url()).hash).toMatch(/^#c_/);
  });

  it('starts afresh when the conversation it resumes was deleted meanwhile', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Soon gone.' }] });
    await send(page, 'remember me');
    await turnEnded(page);
    const conversationId = decodeURIComponent(new URL(page.url()).hash.slice(1));
    const deleted = await fetch(`${rig.gw.url}/v1/conversations/${conversationId}`, {
      method: 'DELETE',
    });
    expect(deleted.status).toBe(204);
    for (const socket of rig.gw.app.websocketServer.clients) socket.terminate();
    await expect
      .poll(() => page.locator('#transcript .notice').textContent())
      .toContain(`${conversationId} could not be opened`);
    expect(new URL(page.url()).hash).toBe('');
    await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
  });

  it('starts a new conversation with its own id', async () => {
    const page = await openPage();
    rig.gw.emulator.enqueue({ blocks: [{ text: 'First.' }] });
    await send(page, 'one');
    await turnEnded(page);
    const first = new URL(page.url()).hash;
    await page.locator('#new-conversation').click();
    await expect.poll(() => page.locator('#transcript .turn').count()).toBe(0);
    expect(new URL(page.url()).hash).toBe('');
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Second.' }] });
    await send(page, 'two');
    await turnEnded(page);
    const second = new URL(page.url()).hash;
    expect(second).toMatch(/^#c_/);
    expect(second).not.toBe(first);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['two']);
  });

  it('passes ?token= on, keeps it out of the URL, and asks for one when it is missing', async () => {
    const secured = await startGateway(
      { AUTH_API_KEYS: 'browser-test-key-1:alice' },
      rig.gw.emulator,
    );
    try {
      const page = await openPage({ base: secured.url, hash: '?token=browser-test-key-1' });
      expect(await page.locator('#status').textContent()).toBe('Connected as alice');
      expect(new URL(page.url()).search).toBe('');

      const anonymous = await newPage();
      await anonymous.goto(`${secured.url}/`);
      await expect
        .poll(() => anonymous.locator('#status').textContent())
        .toBe('This gateway needs a token');
      expect(await anonymous.locator('#token-panel').getAttribute('open')).not.toBeNull();
      await anonymous.locator('#token').fill('browser-test-key-1');
      await anonymous.locator('#token').press('Enter');
      await expect
        .poll(() => anonymous.locator('#status').textContent())
        .toBe('Connected as alice');
    } finally {
      await secured.close();
    }
  });
});
