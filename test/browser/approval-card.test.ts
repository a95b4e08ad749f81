import type { Page, WebSocketRoute } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useBrowserRig } from '../helpers/browser.ts';

/**
 * Tool approval on the web page (public/approval.js), in Debian's Chromium against the real
 * gateway and the Bedrock emulator: two tabs of one user watch one conversation whose agent
 * (test/fixtures/agents/approve-calculator.yaml) needs a person's approval for the
 * calculator. Each tab is its own browser context, as two windows of one person would be.
 */

const KEY = 'approval-test-key-1';
const rig = useBrowserRig({
  AGENTS_FILE: 'test/fixtures/agents/approve-calculator.yaml',
  AUTH_API_KEYS: `${KEY}:alice`,
});

interface Tab {
  page: Page;
  /** Every frame the page sent, parsed. */
  sent: Record<string, unknown>[];
}

/** Opens the page with alice's key; `route` may stand between the page and the gateway. */
async function openTab(hash = '', route?: (ws: WebSocketRoute) => void): Promise<Tab> {
  const context = await rig.newContext({ viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  const sent: Record<string, unknown>[] = [];
  page.on('pageerror', (error) => rig.pageErrors.push(error));
  page.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => sent.push(JSON.parse(String(payload)))),
  );
  if (route) await page.routeWebSocket(/\/v1\/ws/, route);
  await page.goto(`${rig.gw.url}/?token=${KEY}${hash}`);
  await connected(page);
  return { page, sent };
}

async function connected(page: Page): Promise<void> {
  await expect.poll(() => page.locator('#status').textContent()).toBe('Connected as alice');
}

const card = (page: Page) => page.locator('#transcript .tool .approval');
const note = (page: Page) => card(page).locator('.approval-note').textContent();
const button = (page: Page, name: 'Approve' | 'Reject') => card(page).getByRole('button', { name });

/** The model asks for the calculator, then answers with `answer` once it has the result. */
function enqueueCalculation(answer: string): void {
  rig.gw.emulator.enqueue(
    {
      blocks: [
        { text: 'Let me calculate. ' },
        { toolUse: { toolUseId: 'tu_calc', name: 'calculator', input: { expression: '6*7' } } },
      ],
    },
    { blocks: [{ text: answer }] },
  );
}

/**
 * Tab A asks for a calculation; once its card shows, tab B opens the conversation. Both
 * show one card, the tool has not run, and the model was asked once.
 */
async function twoTabsWaiting(tabB?: (ws: WebSocketRoute) => void): Promise<[Tab, Tab]> {
  enqueueCalculation('It is 42.');
  const a = await openTab();
  await expect.poll(() => a.page.locator('#message').isEnabled()).toBe(true);
  await a.page.locator('#message').fill('what is 6*7?');
  await a.page.locator('#message').press('Enter');
  await expect.poll(() => card(a.page).count(), { timeout: 15_000 }).toBe(1);
  const conversationId = decodeURIComponent(new URL(a.page.url()).hash.slice(1));
  expect(conversationId).toMatch(/^c_/);
  const b = await openTab(`#${conversationId}`, tabB);
  // The replay of the running turn and subscribed.pendingApprovals both name the request:
  // one card, in one tool card.
  await expect.poll(() => card(b.page).count()).toBe(1);
  for (const { page } of [a, b]) {
    expect(await page.locator('#transcript .tool').count()).toBe(1);
    expect(await page.locator('.turn.user').allTextContents()).toEqual(['what is 6*7?']);
    await expectWaiting(page);
  }
  expect(rig.gw.emulator.requests).toHaveLength(1);
  return [a, b];
}

/** A card that waits: tool name and input, time left, a labelled reason, both buttons. */
async function expectWaiting(page: Page): Promise<void> {
  const tool = page.locator('#transcript .tool');
  expect(await tool.getAttribute('data-state')).toBe('approval');
  expect(await tool.locator('.tool-name').textContent()).toBe('calculator');
  expect(JSON.parse((await tool.locator('.tool-input').textContent())!)).toEqual({
    expression: '6*7',
  });
  expect(await card(page).locator('.approval-title').textContent()).toBe(
    'Approval needed to run calculator',
  );
  expect(await card(page).getAttribute('role')).toBe('group');
  expect(await card(page).locator('.approval-time').textContent()).toMatch(
    /^(\d+ s|\d+:\d\d(:\d\d)?) left$/,
  );
  const reason = card(page).getByLabel('Reason (optional)');
  expect(await reason.getAttribute('maxlength')).toBe('1000');
  expect(await reason.isEnabled()).toBe(true);
  expect(await button(page, 'Approve').isEnabled()).toBe(true);
  expect(await button(page, 'Reject').isEnabled()).toBe(true);
  expect(await card(page).locator('.approval-note').getAttribute('aria-live')).toBe('polite');
}

/** Waits for the turn to end and returns its tool card. */
async function toolAfterTurn(page: Page) {
  const turn = page.locator('#transcript .turn.assistant').last();
  await turn.locator('.turn-meta').waitFor({ timeout: 15_000 });
  return turn.locator('.tool');
}

function approveFrames(tab: Tab) {
  return tab.sent.filter((frame) => frame.type === 'approve');
}

describe('tool approval on the web page', { timeout: 30_000 }, () => {
  it('shows the card in every tab; approving in one settles both and the tool runs', async () => {
    const [a, b] = await twoTabsWaiting();
    // The time left counts down.
    const before = await card(b.page).locator('.approval-time').textContent();
    await expect
      .poll(() => card(b.page).locator('.approval-time').textContent(), { timeout: 3_000 })
      .not.toBe(before);

    await button(a.page, 'Approve').click();
    for (const { page } of [a, b]) {
      await expect.poll(() => note(page)).toBe('Approved by alice');
      expect(await card(page).getAttribute('data-state')).toBe('approve');
      expect(await card(page).locator('button, input').count()).toBe(0);
      const tool = await toolAfterTurn(page);
      expect(await tool.getAttribute('data-state')).toBe('done');
      expect(await tool.locator('.tool-output').textContent()).toBe('42');
      expect(await page.locator('.turn.assistant .text').last().textContent()).toBe('It is 42.');
      await expect.poll(() => page.locator('#message').isEnabled()).toBe(true);
    }
    const [sent] = approveFrames(a);
    expect(sent).toEqual({
      type: 'approve',
      conversationId: decodeURIComponent(new URL(a.page.url()).hash.slice(1)),
      toolCallId: expect.any(String),
      decision: 'approve',
      requestId: expect.any(String),
    });
    expect(approveFrames(a)).toHaveLength(1);
    expect(approveFrames(b)).toHaveLength(0);
  });

  it('shows who rejected and why in every tab; the tool does not run', async () => {
    const [a, b] = await twoTabsWaiting();
    const reason = 'not <b>today</b>';
    await card(b.page).getByLabel('Reason (optional)').fill(`  ${reason} `);
    await button(b.page, 'Reject').click();
    for (const { page } of [a, b]) {
      await expect.poll(() => note(page)).toBe(`Rejected by alice: ${reason}`);
      expect(await card(page).getAttribute('data-state')).toBe('reject');
      const tool = await toolAfterTurn(page);
      expect(await tool.getAttribute('data-state')).toBe('error');
      expect(await tool.locator('.tool-output').textContent()).not.toContain('42');
      expect(await page.locator('#transcript b').count()).toBe(0);
    }
    expect(approveFrames(b)).toEqual([
      expect.objectContaining({ decision: 'reject', reason, toolCallId: expect.any(String) }),
    ]);
  });

  it('shows a pending card again after a reload, once, and answers from it', async () => {
    const [a, b] = await twoTabsWaiting();
    await b.page.reload();
    await connected(b.page);
    await expect.poll(() => card(b.page).count()).toBe(1);
    expect(await b.page.locator('#transcript .tool').count()).toBe(1);
    expect(await b.page.locator('.turn.user').allTextContents()).toEqual(['what is 6*7?']);
    await expectWaiting(b.page);
    // The running turn is known after the reload: the box waits and Stop is offered.
    expect(await b.page.locator('#message').isDisabled()).toBe(true);
    expect(await b.page.locator('#stop').isEnabled()).toBe(true);

    await button(b.page, 'Approve').click();
    for (const { page } of [a, b]) {
      await expect.poll(() => note(page)).toBe('Approved by alice');
      expect(await (await toolAfterTurn(page)).locator('.tool-output').textContent()).toBe('42');
    }
  });

  it('says why when a tab answers a request that was decided meanwhile', async () => {
    // Tab B hears of turn frames late from the approval-result on: it answers a request
    // that tab A has decided already, as a tab does while the result is on its way.
    let holding = false;
    let release = () => {};
    const held: (string | Buffer)[] = [];
    const [a, b] = await twoTabsWaiting((ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        const frame = JSON.parse(String(message)) as { type: string; turnId?: string };
        if (frame.type === 'approval-result') holding = true;
        if (holding && frame.turnId) held.push(message);
        else ws.send(message);
      });
      release = () => {
        holding = false;
        for (const message of held.splice(0)) ws.send(message);
      };
    });
    await button(a.page, 'Approve').click();
    await expect.poll(() => note(a.page)).toBe('Approved by alice');
    await expect.poll(() => held.length).toBeGreaterThan(0);
    expect(await card(b.page).getAttribute('data-state')).toBe('pending');

    await button(b.page, 'Approve').click();
    await expect.poll(() => card(b.page).getAttribute('data-state')).toBe('refused');
    expect(await card(b.page).getAttribute('data-refusal')).toBe('no_pending_approval');
    expect(await note(b.page)).not.toBe('');
    expect(await note(b.page)).not.toBe('Sending…');
    // The request is gone: nothing to answer again.
    expect(await button(b.page, 'Approve').isDisabled()).toBe(true);
    expect(await button(b.page, 'Reject').isDisabled()).toBe(true);

    release();
    await expect.poll(() => note(b.page)).toBe('Approved by alice');
    expect(await (await toolAfterTurn(b.page)).locator('.tool-output').textContent()).toBe('42');
    expect(approveFrames(a)).toHaveLength(1);
  });
});
