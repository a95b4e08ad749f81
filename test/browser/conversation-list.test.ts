import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserRig } from '../helpers/browser.ts';
import {
  openWebPage,
  type PageOptions,
  send,
  shownConversation,
  turnEnded,
  turnText,
  WAIT,
} from '../helpers/web-page.ts';

/**
 * The web page's conversation list (GET /v1/conversations: switch, new, delete) and its
 * agent picker (ready.agents: chat.agent on a conversation's first turn, then the
 * conversation's agent), in Chromium against a gateway with two agents. Each test is its
 * own user (an API key), so the lists of tests do not mix.
 */

const USERS = ['ann', 'ben', 'cat', 'dan', 'eve'];
const rig = useBrowserRig({
  AGENTS_FILE: 'test/fixtures/agents/two-agents.yaml',
  AUTH_API_KEYS: USERS.map((user) => `key-${user}:${user}`).join(','),
});

const openPage = (user: string, options: PageOptions = {}) =>
  openWebPage((o) => rig.newContext(o), rig.gw.url, rig.pageErrors, {
    ...options,
    hash: `?token=key-${user}${options.hash ?? ''}`,
  });

const titles = (page: Page) => page.locator('.conversation-title').allTextContents();
const current = (page: Page) =>
  page.locator('.conversation-open[aria-current="true"] .conversation-title').allTextContents();
const item = (page: Page, title: string) => page.locator('.conversation', { hasText: title });

/** The system prompt the model was sent in its newest request: it names the agent. */
function lastSystemPrompt(): string {
  const system = rig.gw.emulator.requests.at(-1)?.body?.system ?? [];
  return system.map((block) => block.text ?? '').join('');
}

async function ask(page: Page, text: string, answer = `Answer to ${text}.`): Promise<void> {
  rig.gw.emulator.enqueue({ blocks: [{ text: answer }] });
  await send(page, text);
  await turnEnded(page);
}

async function rest(user: string, path: string, method = 'GET'): Promise<Response> {
  return fetch(`${rig.gw.url}${path}`, {
    method,
    headers: { authorization: `Bearer key-${user}` },
  });
}

describe('the conversation list', () => {
  it('lists conversations newest first, switches between them, and starts new ones', async () => {
    const page = await openPage('ann');
    expect(await page.locator('.conversation-empty').textContent()).toBe('No conversations yet.');
    await ask(page, 'first question');
    const first = shownConversation(page);
    await expect.poll(() => titles(page), WAIT).toEqual(['first question']);
    expect(await current(page)).toEqual(['first question']);

    await page.locator('#new-conversation').click();
    await expect.poll(() => page.locator('#transcript .turn').count(), WAIT).toBe(0);
    // Nothing is marked: the new conversation is not listed before its first turn.
    expect(await current(page)).toEqual([]);
    await ask(page, 'second question');
    const second = shownConversation(page);
    expect(second).not.toBe(first);
    await expect.poll(() => titles(page), WAIT).toEqual(['second question', 'first question']);
    expect(await current(page)).toEqual(['second question']);

    // Switch: the first conversation's history, its id in the URL, and it goes on there.
    await item(page, 'first question').locator('.conversation-open').click();
    await expect
      .poll(() => page.locator('.turn.user').allTextContents())
      .toEqual(['first question']);
    expect(await turnText(page)).toEqual(['Answer to first question.']);
    expect(shownConversation(page)).toBe(first);
    expect(await current(page)).toEqual(['first question']);
    await ask(page, 'follow-up');
    // Activity moves it to the top.
    await expect.poll(() => titles(page), WAIT).toEqual(['first question', 'second question']);
    expect(await page.locator('.turn.user').allTextContents()).toEqual([
      'first question',
      'follow-up',
    ]);

    // The list survives a reload; another user's conversations never show in it.
    const other = await openPage('ben');
    await ask(other, 'ben asks');
    await page.reload();
    await expect.poll(() => titles(page), WAIT).toEqual(['first question', 'second question']);
    expect(await current(page)).toEqual(['first question']);
    await expect.poll(() => titles(other), WAIT).toEqual(['ben asks']);
  });

  it('marks a conversation that is answering, and refreshes when a turn starts and ends', async () => {
    const page = await openPage('cat');
    await ask(page, 'older');
    await page.locator('#new-conversation').click();
    rig.gw.emulator.enqueue({ blocks: [{ text: 'Still going' }], hangAfterEvents: 3 });
    await send(page, 'long one');
    await expect.poll(() => titles(page), WAIT).toEqual(['long one', 'older']);
    await expect.poll(() => item(page, 'long one').getAttribute('data-running'), WAIT).toBe('');
    expect(await item(page, 'long one').locator('.running-dot').count()).toBe(1);
    expect(await item(page, 'older').getAttribute('data-running')).toBeNull();

    // A running conversation is not deleted: the list says why.
    const remove = item(page, 'long one').locator('.conversation-delete');
    await remove.click();
    await remove.click();
    await expect
      .poll(() => page.locator('#list-status').textContent(), WAIT)
      .toContain('stop it first');
    expect(await page.locator('#list-status').isVisible()).toBe(true);
    expect(await titles(page)).toEqual(['long one', 'older']);

    await page.locator('#stop').click();
    await turnEnded(page);
    await expect.poll(() => item(page, 'long one').getAttribute('data-running'), WAIT).toBeNull();
  });

  it('deletes a conversation on a second click, and shows a new one when it was shown', async () => {
    const page = await openPage('dan');
    await ask(page, 'keep me');
    await page.locator('#new-conversation').click();
    await ask(page, 'delete me');
    const doomed = shownConversation(page);
    await page.locator('#new-conversation').click();
    await ask(page, 'shown and deleted');
    const shown = shownConversation(page);
    await expect
      .poll(() => titles(page), WAIT)
      .toEqual(['shown and deleted', 'delete me', 'keep me']);

    // One click asks; a second deletes. The conversation shown stays shown.
    const remove = item(page, 'delete me').locator('.conversation-delete');
    await remove.click();
    expect(await remove.textContent()).toBe('Delete?');
    expect(await remove.getAttribute('aria-label')).toBe('Confirm: delete “delete me”');
    expect(await titles(page)).toHaveLength(3);
    await remove.click();
    await expect.poll(() => titles(page), WAIT).toEqual(['shown and deleted', 'keep me']);
    expect((await rest('dan', `/v1/conversations/${doomed}/messages`)).status).toBe(404);
    expect(shownConversation(page)).toBe(shown);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['shown and deleted']);

    // Deleting the conversation shown opens a new, empty one.
    const removeShown = item(page, 'shown and deleted').locator('.conversation-delete');
    await removeShown.click();
    await removeShown.click();
    await expect.poll(() => titles(page), WAIT).toEqual(['keep me']);
    await expect.poll(() => page.locator('#transcript .turn').count(), WAIT).toBe(0);
    expect(shownConversation(page)).toBe('');
    expect((await rest('dan', `/v1/conversations/${shown}/messages`)).status).toBe(404);
    await ask(page, 'after the delete');
    expect(shownConversation(page)).not.toBe(shown);
    await expect.poll(() => titles(page), WAIT).toEqual(['after the delete', 'keep me']);
  });
});

describe('the agent picker', () => {
  it("offers ready.agents, sends the choice with the first chat, then shows the conversation's agent", async () => {
    const chats: Record<string, unknown>[] = [];
    const page = await openPage('eve', {
      before: async (p) => {
        p.on('websocket', (ws) =>
          ws.on('framesent', ({ payload }) => {
            const frame = JSON.parse(String(payload)) as Record<string, unknown>;
            if (frame.type === 'chat') chats.push(frame);
          }),
        );
      },
    });
    const agent = page.locator('#agent');
    const options = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLOptionElement>('#agent option')].map((o) => [
        o.value,
        o.title,
      ]),
    );
    expect(options).toEqual([
      ['helper', 'Answers anything, briefly.'],
      ['analyst', 'Answers questions about numbers.'],
    ]);
    expect(await agent.inputValue()).toBe('helper');
    expect(await agent.isEnabled()).toBe(true);

    await agent.selectOption('analyst');
    await ask(page, 'sum these');
    expect(lastSystemPrompt()).toContain('You are the analyst agent.');
    expect(chats.at(-1)).toMatchObject({ agent: 'analyst' });
    // The conversation's agent is fixed by its first turn: shown, and no longer chosen.
    await expect.poll(() => agent.isDisabled(), WAIT).toBe(true);
    expect(await agent.inputValue()).toBe('analyst');
    await ask(page, 'and again');
    expect(chats.at(-1)).not.toHaveProperty('agent');
    expect(lastSystemPrompt()).toContain('You are the analyst agent.');
    await expect.poll(() => item(page, 'sum these').textContent(), WAIT).toContain('analyst');
    const analystChat = shownConversation(page);

    // A new conversation: the picker is free again, with the default agent.
    await page.locator('#new-conversation').click();
    await expect.poll(() => agent.isEnabled(), WAIT).toBe(true);
    await agent.selectOption('helper');
    await ask(page, 'hello');
    expect(lastSystemPrompt()).toContain('You are the helper agent.');
    await expect.poll(() => agent.isDisabled(), WAIT).toBe(true);
    expect(await agent.inputValue()).toBe('helper');

    // After a reload (history names no agent) the list tells the conversation's agent.
    await page.goto(`${rig.gw.url}/?token=key-eve#${analystChat}`);
    await expect.poll(() => page.locator('.turn.user').count(), WAIT).toBe(2);
    await expect.poll(() => agent.inputValue(), WAIT).toBe('analyst');
    expect(await agent.isDisabled()).toBe(true);
  });
});
