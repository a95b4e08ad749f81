/**
 * Tool approval on the page (docs/protocol.md): the card a tool call shows while it waits for
 * a person (`approval-request`), its countdown, and the line it becomes once decided
 * (`approval-result`). Every tab watching the conversation gets both frames, so every tab
 * shows the card and its outcome, whichever tab answered.
 */

import { el } from './dom.ts';

const TICK_MS = 1000;
const MAX_REASON_CHARS = 1000;
/** Refusals after which this page cannot answer the request any more. */
const FINAL_REFUSALS = new Set(['no_pending_approval', 'forbidden', 'not_found']);
const DECISIONS = new Map([
  ['approve', 'Approved'],
  ['reject', 'Rejected'],
  ['timeout', 'Timed out'],
  ['cancelled', 'Cancelled'],
]);

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * The time left until `expiresAt` (ISO-8601): "42 s left", "4:05 left", "1:02:03 left",
 * "expired" once it has passed, '' when it is not a date. Seconds round up, so "expired"
 * shows only at the deadline itself.
 */
export function timeLeft(expiresAt: string, now: number = Date.now()): string {
  const ms = Date.parse(expiresAt) - now;
  if (Number.isNaN(ms)) return '';
  if (ms <= 0) return 'expired';
  const total = Math.ceil(ms / 1000);
  if (total < 60) return `${total} s left`;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor(total / 60) % 60;
  const seconds = pad(total % 60);
  return hours ? `${hours}:${pad(minutes)}:${seconds} left` : `${minutes}:${seconds} left`;
}

/** What an `approval-result` says (its frame's fields the card shows). */
export interface Decision {
  decision: string;
  decidedBy?: string | undefined;
  reason?: string | undefined;
}

/** An `approval-result` in words: "Approved by alice", "Rejected by bob: reason", "Timed out". */
export function decisionText({ decision, decidedBy, reason }: Decision): string {
  let text = DECISIONS.get(decision) ?? String(decision);
  if (decidedBy) text += ` by ${decidedBy}`;
  if (reason) text += `: ${reason}`;
  return text;
}

/** A person's answer on a card. */
export interface Answer {
  toolCallId: string;
  decision: 'approve' | 'reject';
  reason?: string;
}

/**
 * Sends a card's answer: resolves once the gateway took it (the `approval-result` that
 * follows settles the card), rejects with the refusal's `{code, message}`.
 */
export type Decide = (answer: Answer) => Promise<void>;

let cards = 0;

/**
 * The approval part of a tool card. While the request waits: the time left, an optional
 * reason and Approve / Reject. Once decided: one result line (`settle`).
 */
export class ApprovalCard {
  readonly node: HTMLElement;
  readonly #toolCallId: string;
  readonly #expiresAt: string;
  readonly #decide: Decide;
  readonly #time: HTMLElement;
  readonly #reason: HTMLInputElement;
  readonly #buttons: HTMLButtonElement[];
  readonly #controls: HTMLElement;
  readonly #note: HTMLElement;
  readonly #title: Text;
  readonly #timer: ReturnType<typeof setInterval>;
  #settled = false;

  constructor(
    { toolCallId, name, expiresAt }: { toolCallId: string; name: string; expiresAt: string },
    decide: Decide,
  ) {
    this.#toolCallId = toolCallId;
    this.#expiresAt = expiresAt;
    this.#decide = decide;
    cards += 1;
    const titleId = `approval-title-${cards}`;
    const reasonId = `approval-reason-${cards}`;
    this.#time = el('span', { class: 'approval-time', role: 'timer' }, timeLeft(expiresAt));
    this.#reason = el('input', {
      id: reasonId,
      type: 'text',
      maxlength: MAX_REASON_CHARS,
      autocomplete: 'off',
    });
    const approve = el('button', { type: 'button' }, 'Approve');
    const reject = el('button', { type: 'button', class: 'danger' }, 'Reject');
    approve.addEventListener('click', () => this.#send('approve'));
    reject.addEventListener('click', () => this.#send('reject'));
    this.#buttons = [approve, reject];
    this.#controls = el(
      'div',
      { class: 'approval-controls' },
      el('label', { for: reasonId }, 'Reason (optional)'),
      this.#reason,
      el('div', { class: 'approval-actions' }, approve, reject),
    );
    this.#note = el('p', { class: 'approval-note', 'aria-live': 'polite' });
    this.#title = document.createTextNode('Approval needed to run ');
    this.node = el(
      'div',
      { class: 'approval', role: 'group', 'aria-labelledby': titleId, 'data-state': 'pending' },
      el(
        'div',
        { class: 'approval-head' },
        el('p', { class: 'approval-title', id: titleId }, this.#title, el('code', {}, name)),
        this.#time,
      ),
      this.#controls,
      this.#note,
    );
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** The gateway refused this page's answer. */
  refused({ code, message }: { code: string; message?: string }): void {
    if (this.#settled) return; // the result already says what happened
    this.node.dataset.state = 'refused';
    this.node.dataset.refusal = code;
    this.#note.textContent = message || code;
    // Gone or not ours to answer: nothing to try again. Otherwise (a dropped socket, a
    // passing failure) the buttons come back.
    if (!FINAL_REFUSALS.has(code)) this.#enable(true);
  }

  /** The request was decided (`approval-result`): the card becomes its result line. */
  settle(result: Decision): void {
    if (this.#settled) return;
    this.#settled = true;
    clearInterval(this.#timer);
    this.node.dataset.state = result.decision;
    this.#title.data = 'Approval to run ';
    this.#controls.remove();
    this.#time.remove();
    this.#note.textContent = decisionText(result);
  }

  #send(decision: 'approve' | 'reject'): void {
    this.#enable(false);
    const reason = this.#reason.value.trim();
    const answer: Answer = { toolCallId: this.#toolCallId, decision };
    if (reason) answer.reason = reason;
    this.node.dataset.state = 'sending';
    this.#note.textContent = 'Sending…';
    this.#decide(answer).then(
      () => {},
      (error: { code?: string; message?: string }) =>
        this.refused({ code: error.code ?? 'internal', message: error.message ?? '' }),
    );
  }

  #enable(enabled: boolean): void {
    for (const button of this.#buttons) button.disabled = !enabled;
    this.#reason.disabled = !enabled;
  }

  #tick(): void {
    const left = timeLeft(this.#expiresAt);
    this.#time.textContent = left;
    // Nothing more to count down, or the card is off the page (another conversation shown).
    if (left === 'expired' || left === '' || !this.node.isConnected) clearInterval(this.#timer);
  }
}
