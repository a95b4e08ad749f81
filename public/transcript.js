/**
 * The conversation as DOM. Everything the model or a tool wrote is inserted as text
 * (textContent / Text nodes), never as HTML, so model output cannot create elements.
 */

import { ApprovalCard } from './approval.js';
import { el, pretty } from './dom.js';

function seconds(ms) {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const STOP_REASONS = {
  cancelled: 'Cancelled',
  error: 'Ended with an error',
  max_tokens: 'Stopped at the token limit',
  step_limit: 'Stopped at the step limit',
};

/** One assistant turn: text segments, reasoning, tool cards, errors, and its end. */
class TurnView {
  #transcript;
  #text = null;
  #reasoning = null;
  #tools = new Map();

  constructor(transcript, turnId) {
    this.#transcript = transcript;
    this.node = el('article', {
      class: 'turn assistant',
      'data-turn-id': turnId,
      'aria-label': 'Assistant',
    });
  }

  /** Appends assistant text to the current text segment (a new one after a tool card). */
  text(text) {
    if (!text) return;
    this.#transcript.follow(() => {
      this.#reasoning = null;
      if (!this.#text) {
        this.#text = document.createTextNode('');
        this.node.append(el('div', { class: 'text' }, this.#text));
      }
      this.#text.appendData(text);
    });
  }

  reasoning(text) {
    this.#transcript.follow(() => {
      if (!this.#reasoning) {
        this.#text = null;
        this.#reasoning = document.createTextNode('');
        this.node.append(
          el(
            'details',
            { class: 'reasoning' },
            el('summary', {}, 'Reasoning'),
            el('div', { class: 'reasoning-text' }, this.#reasoning),
          ),
        );
      }
      this.#reasoning.appendData(text);
    });
  }

  /** Opens a tool card; once per call (a pending approval may have opened it already). */
  toolStart({ toolCallId, name, input }) {
    if (this.#tools.has(toolCallId)) return;
    this.#transcript.follow(() => {
      this.#text = null;
      this.#reasoning = null;
      const status = el('span', { class: 'tool-status' }, 'running…');
      const output = el('pre', { class: 'tool-output', hidden: '' });
      const card = el(
        'section',
        { class: 'tool', 'data-state': 'running', 'aria-label': `Tool call ${name}` },
        el('header', { class: 'tool-head' }, el('span', { class: 'tool-name' }, name), status),
        el('div', { class: 'io-label' }, 'Input'),
        el('pre', { class: 'tool-input' }, pretty(input ?? {})),
        output,
      );
      this.#tools.set(toolCallId, { card, status, output, approval: null });
      this.node.append(card);
    });
  }

  toolEnd({ toolCallId, name, output, isError, durationMs, truncated }) {
    if (!this.#tools.has(toolCallId)) this.toolStart({ toolCallId, name, input: {} });
    const tool = this.#tools.get(toolCallId);
    this.#transcript.follow(() => {
      tool.card.dataset.state = isError ? 'error' : 'done';
      const parts = [isError ? 'failed' : 'done'];
      if (typeof durationMs === 'number') parts.push(seconds(durationMs));
      tool.status.textContent = parts.join(' · ');
      tool.output.before(el('div', { class: 'io-label' }, isError ? 'Error' : 'Output'));
      tool.output.textContent = truncated ? `${output}\n… (cut at 16 KiB)` : output;
      tool.output.hidden = false;
    });
  }

  /**
   * Shows the approval card of a call inside its tool card, which the request opens when the
   * page has not shown the call (a card from `subscribed.pendingApprovals`). Once per call.
   */
  approvalRequest({ toolCallId, name, input, expiresAt }) {
    this.toolStart({ toolCallId, name, input });
    const tool = this.#tools.get(toolCallId);
    if (tool.approval) return;
    this.#transcript.follow(() => {
      tool.approval = new ApprovalCard({ toolCallId, name, expiresAt }, this.#transcript.decide);
      tool.card.dataset.state = 'approval';
      tool.status.textContent = 'waiting for approval';
      tool.output.before(tool.approval.node);
    });
  }

  approvalResult(result) {
    const tool = this.#tools.get(result.toolCallId);
    // No card: the replay began after the request; the call's tool-end still shows its end.
    if (!tool?.approval) return;
    this.#transcript.follow(() => {
      tool.approval.settle(result);
      tool.card.dataset.state = 'running';
      tool.status.textContent = result.decision === 'approve' ? 'running…' : 'not run';
    });
  }

  error(frame) {
    this.#transcript.follow(() => {
      this.#text = null;
      this.node.append(errorBox(frame));
    });
  }

  end({ stopReason, usage, durationMs }) {
    this.#transcript.follow(() => {
      this.node.dataset.state = stopReason;
      const parts = [];
      if (stopReason !== 'end_turn') parts.push(STOP_REASONS[stopReason] ?? stopReason);
      if (usage?.totalTokens)
        parts.push(`${usage.inputTokens} in · ${usage.outputTokens} out tokens`);
      if (typeof durationMs === 'number') parts.push(seconds(durationMs));
      const stop = stopReason !== 'end_turn' ? 'turn-meta stopped' : 'turn-meta';
      this.node.append(el('p', { class: stop }, parts.join(' · ')));
    });
  }
}

function errorBox({ code, message, hints }) {
  const box = el(
    'div',
    { class: 'error-box', 'data-code': code },
    el('p', { class: 'error-title' }, el('strong', {}, 'Error'), ' ', el('code', {}, code)),
    el('p', { class: 'error-message' }, message),
  );
  if (Array.isArray(hints) && hints.length > 0) {
    box.append(el('ul', { class: 'hints' }, ...hints.map((hint) => el('li', {}, hint))));
  }
  return box;
}

export class Transcript {
  #root;
  #turns = new Map();

  /**
   * `decide(card, {toolCallId, decision, reason})` sends an approval card's answer and says
   * whether it went out (see app.js).
   */
  constructor(root, { decide = () => false } = {}) {
    this.#root = root;
    this.decide = decide;
  }

  /** Runs a change, keeping the view pinned to the bottom if it was there. */
  follow(change) {
    const root = this.#root;
    const pinned = root.scrollHeight - root.scrollTop - root.clientHeight < 48;
    root.querySelector(':scope > .empty')?.remove();
    change();
    if (pinned) root.scrollTop = root.scrollHeight;
  }

  clear(emptyText) {
    this.#turns.clear();
    this.#root.replaceChildren();
    if (emptyText) this.#root.append(el('p', { class: 'empty' }, emptyText));
  }

  user(content) {
    this.follow(() => {
      this.#root.append(
        el(
          'article',
          { class: 'turn user', 'aria-label': 'You' },
          el('div', { class: 'text' }, content),
        ),
      );
    });
  }

  /** The view of a turn, created on first use (a resumed turn may start mid-way). */
  turn(turnId) {
    let view = this.#turns.get(turnId);
    if (!view) {
      view = new TurnView(this, turnId);
      this.#turns.set(turnId, view);
      this.follow(() => this.#root.append(view.node));
    }
    return view;
  }

  /** A message from the page or the gateway that belongs to no turn. */
  notice(frameOrText) {
    const node =
      typeof frameOrText === 'string'
        ? el('p', { class: 'notice' }, frameOrText)
        : errorBox(frameOrText);
    this.follow(() => this.#root.append(node));
  }

  /**
   * Renders stored messages: a user message, then its assistant and tool messages as one
   * turn, marked with its stop reason when it did not end normally (a stopped answer).
   */
  history(messages) {
    let turn = null;
    let stopReason;
    let n = 0;
    const close = () => {
      if (turn && stopReason) turn.end({ stopReason });
      turn = null;
      stopReason = undefined;
    };
    for (const message of messages) {
      if (message.role === 'user') {
        close();
        this.user(message.content);
        continue;
      }
      if (!turn) {
        n += 1;
        turn = new TurnView(this, `history-${n}`);
        this.follow(() => this.#root.append(turn.node));
      }
      if (message.role === 'assistant') {
        stopReason = message.stopReason;
        turn.text(message.content);
        for (const call of message.toolCalls ?? []) {
          turn.toolStart({ toolCallId: call.id, name: call.name, input: call.input });
        }
      } else if (message.role === 'tool') {
        turn.toolEnd({
          toolCallId: message.toolCallId,
          name: message.name ?? 'tool',
          output: message.content,
        });
      }
    }
    close();
  }
}
