/**
 * The conversation as DOM: user messages as plain text, the assistant's answers as markdown
 * (markdown.ts sanitizes them), tool cards that collapse, approval cards, errors, and each
 * turn's footer (how it stopped, its tokens and cost, how long it took). Text from the user,
 * the model or a tool is never inserted as HTML except through the markdown sanitizer.
 */

import type {
  ApprovalRequestFrame,
  ApprovalResultFrame,
  HistoryMessage,
  StopReason,
  ToolEndFrame,
} from '../../src/client/index.ts';
import { ApprovalCard, type Decide } from './approval.ts';
import { el, pretty } from './dom.ts';
import { duration, type Usage, usageText } from './format.ts';
import { MarkdownText } from './markdown.ts';

const STOP_REASONS: Partial<Record<StopReason, string>> = {
  cancelled: 'Cancelled',
  error: 'Ended with an error',
  max_tokens: 'Stopped at the token limit',
  content_filtered: 'Stopped by a content filter',
  step_limit: 'Stopped at the step limit',
};

/** A history message as the gateway sends it now: the turn's last assistant one has `usage`. */
export type StoredMessage = HistoryMessage & { usage?: Usage | undefined };

/** What an `error` the page shows carries. */
export interface ShownError {
  code: string;
  message: string;
  hints?: readonly string[] | undefined;
}

/** What a turn's footer says. */
export interface TurnEnd {
  stopReason: StopReason;
  usage?: Usage | undefined;
  durationMs?: number | undefined;
  costUsd?: number | undefined;
}

interface ToolCard {
  card: HTMLDetailsElement;
  status: HTMLElement;
  output: HTMLElement;
  approval: ApprovalCard | null;
  /** The person opened or closed it: the page leaves it as they chose. */
  touched: boolean;
}

/** One line of a tool's input for the card's summary: `{"expression":"6*7"}`. */
function inputPreview(input: unknown): string {
  const text = JSON.stringify(input ?? {}) ?? '';
  return text === '{}' ? '' : text;
}

/** One assistant turn: text segments, reasoning, tool cards, errors, and its end. */
class TurnView {
  readonly node: HTMLElement;
  readonly #transcript: Transcript;
  #text: MarkdownText | null = null;
  readonly #texts: MarkdownText[] = [];
  #reasoning: Text | null = null;
  readonly #tools = new Map<string, ToolCard>();
  #ended = false;

  constructor(transcript: Transcript, turnId: string) {
    this.#transcript = transcript;
    this.node = el('article', {
      class: 'turn assistant',
      'data-turn-id': turnId,
      'aria-label': 'Assistant',
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Appends assistant text to the current text segment (a new one after a tool card). */
  text(text: string): void {
    if (!text) return;
    this.#reasoning = null;
    if (!this.#text) {
      const segment = new MarkdownText((change) => this.#transcript.follow(change));
      this.#text = segment;
      this.#texts.push(segment);
      this.#transcript.follow(() => this.node.append(segment.node));
    }
    this.#text.append(text);
  }

  reasoning(text: string): void {
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

  /**
   * Opens a tool card; once per call (a pending approval may have opened it already). A
   * card of a call that runs is open; `open: false` for calls loaded from history.
   */
  toolStart(
    { toolCallId, name, input }: { toolCallId: string; name: string; input: unknown },
    open = true,
  ): void {
    if (this.#tools.has(toolCallId)) return;
    this.#text = null;
    this.#reasoning = null;
    const status = el('span', { class: 'tool-status' }, 'running…');
    const output = el('pre', { class: 'tool-output', hidden: true });
    const card = el(
      'details',
      { class: 'tool', 'data-state': 'running', open, 'aria-label': `Tool call ${name}` },
      el(
        'summary',
        { class: 'tool-head' },
        el('span', { class: 'tool-name' }, name),
        el('span', { class: 'tool-preview' }, inputPreview(input)),
        status,
      ),
      el('div', { class: 'io-label' }, 'Input'),
      el('pre', { class: 'tool-input' }, pretty(input ?? {})),
      output,
    );
    const tool: ToolCard = { card, status, output, approval: null, touched: false };
    // `toggle` also fires when the page opens or closes it: only a click is the person's.
    card.querySelector('summary')?.addEventListener('click', () => {
      tool.touched = true;
    });
    this.#tools.set(toolCallId, tool);
    this.#transcript.follow(() => this.node.append(card));
  }

  toolEnd(
    {
      toolCallId,
      name,
      output,
      isError,
      durationMs,
      truncated,
    }: Pick<ToolEndFrame, 'toolCallId' | 'name' | 'output'> &
      Partial<Pick<ToolEndFrame, 'isError' | 'durationMs' | 'truncated'>>,
    collapse = true,
  ): void {
    if (!this.#tools.has(toolCallId)) this.toolStart({ toolCallId, name, input: {} }, !collapse);
    const tool = this.#tools.get(toolCallId)!;
    this.#transcript.follow(() => {
      tool.card.dataset.state = isError ? 'error' : 'done';
      const parts = [isError ? 'failed' : 'done'];
      if (typeof durationMs === 'number') parts.push(duration(durationMs));
      tool.status.textContent = parts.join(' · ');
      tool.output.before(el('div', { class: 'io-label' }, isError ? 'Error' : 'Output'));
      tool.output.textContent = truncated ? `${output}\n… (cut at 16 KiB)` : output;
      tool.output.hidden = false;
      // A call that worked folds to its summary line; a failure stays open to be read.
      if (collapse && !isError && !tool.touched) tool.card.open = false;
    });
  }

  /**
   * Shows the approval card of a call inside its tool card, which the request opens when the
   * page has not shown the call (a card from `subscribed.pendingApprovals`). Once per call.
   */
  approvalRequest({
    toolCallId,
    name,
    input,
    expiresAt,
  }: Pick<ApprovalRequestFrame, 'toolCallId' | 'name' | 'input' | 'expiresAt'>): void {
    this.toolStart({ toolCallId, name, input });
    const tool = this.#tools.get(toolCallId)!;
    if (tool.approval) return;
    this.#transcript.follow(() => {
      tool.approval = new ApprovalCard({ toolCallId, name, expiresAt }, this.#transcript.decide);
      tool.card.dataset.state = 'approval';
      tool.card.open = true;
      tool.status.textContent = 'waiting for approval';
      tool.output.before(tool.approval.node);
    });
  }

  approvalResult(result: ApprovalResultFrame): void {
    const tool = this.#tools.get(result.toolCallId);
    // No card: the replay began after the request; the call's tool-end still shows its end.
    if (!tool?.approval) return;
    const approval = tool.approval;
    this.#transcript.follow(() => {
      approval.settle(result);
      tool.card.dataset.state = 'running';
      tool.status.textContent = result.decision === 'approve' ? 'running…' : 'not run';
    });
  }

  error(frame: ShownError): void {
    this.flush();
    this.#text = null;
    this.#transcript.follow(() => this.node.append(errorBox(frame)));
  }

  /** Draws any text still waiting for its animation frame. */
  flush(): void {
    for (const text of this.#texts) text.flush();
  }

  end({ stopReason, usage, durationMs, costUsd }: TurnEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.flush();
    this.#transcript.follow(() => {
      this.node.dataset.state = stopReason;
      const parts: string[] = [];
      const stopped = stopReason !== 'end_turn';
      if (stopped) parts.push(STOP_REASONS[stopReason] ?? stopReason);
      const spent = usageText(usage, costUsd);
      if (spent) parts.push(spent);
      if (typeof durationMs === 'number') parts.push(duration(durationMs));
      if (parts.length === 0) return;
      this.node.append(
        el('p', { class: stopped ? 'turn-meta stopped' : 'turn-meta' }, parts.join(' · ')),
      );
    });
  }
}

function errorBox({ code, message, hints }: ShownError): HTMLElement {
  const box = el(
    'div',
    { class: 'error-box', 'data-code': code },
    el('p', { class: 'error-title' }, el('strong', {}, 'Error'), ' ', el('code', {}, code)),
    el('p', { class: 'error-message' }, message),
  );
  if (hints && hints.length > 0) {
    box.append(el('ul', { class: 'hints' }, ...hints.map((hint) => el('li', {}, hint))));
  }
  return box;
}

/** The transcript of the conversation shown. */
export class Transcript {
  readonly #root: HTMLElement;
  readonly #turns = new Map<string, TurnView>();
  /** Sends an approval card's answer (see approval.ts). */
  readonly decide: Decide;

  constructor(root: HTMLElement, decide: Decide) {
    this.#root = root;
    this.decide = decide;
    root.addEventListener('click', (event) => {
      const button = (event.target as Element | null)?.closest?.('button[data-copy]');
      if (button instanceof HTMLButtonElement) void copyCode(button);
    });
  }

  /** Runs a change, keeping the view pinned to the bottom if it was there. */
  follow(change: () => void): void {
    const root = this.#root;
    const pinned = root.scrollHeight - root.scrollTop - root.clientHeight < 48;
    root.querySelector(':scope > .empty')?.remove();
    change();
    if (pinned) root.scrollTop = root.scrollHeight;
  }

  clear(emptyText: string): void {
    this.#turns.clear();
    this.#root.replaceChildren();
    if (emptyText) this.#root.append(el('p', { class: 'empty' }, emptyText));
  }

  user(content: string): void {
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
  turn(turnId: string): TurnView {
    let view = this.#turns.get(turnId);
    if (!view) {
      const created = new TurnView(this, turnId);
      this.#turns.set(turnId, created);
      this.follow(() => this.#root.append(created.node));
      view = created;
    }
    return view;
  }

  /** A message from the page or the gateway that belongs to no turn. */
  notice(frameOrText: ShownError | string): void {
    const node =
      typeof frameOrText === 'string'
        ? el('p', { class: 'notice' }, frameOrText)
        : errorBox(frameOrText);
    this.follow(() => this.#root.append(node));
  }

  /**
   * Renders stored messages: each turn's user message, then its assistant and tool
   * messages as one turn, with its footer (a stopped answer says so; its usage when stored).
   */
  history(messages: readonly StoredMessage[]): void {
    for (const message of messages) {
      if (message.role === 'user') {
        this.user(message.content);
        continue;
      }
      const turn = this.turn(message.turnId);
      if (message.role === 'assistant') {
        turn.text(message.content);
        for (const call of message.toolCalls ?? []) {
          turn.toolStart({ toolCallId: call.id, name: call.name, input: call.input }, false);
        }
      } else {
        turn.toolEnd(
          {
            toolCallId: message.toolCallId ?? '',
            name: message.name ?? 'tool',
            output: message.content,
          },
          false,
        );
      }
    }
    // A turn's footer comes from its last assistant message (stopReason, usage).
    const last = new Map<string, StoredMessage>();
    for (const message of messages)
      if (message.role === 'assistant') last.set(message.turnId, message);
    for (const [turnId, view] of this.#turns) {
      const message = last.get(turnId);
      view.end({ stopReason: message?.stopReason ?? 'end_turn', usage: message?.usage });
    }
  }
}

/** Copies a code block's text to the clipboard, and says on the button how it went. */
async function copyCode(button: HTMLButtonElement): Promise<void> {
  const code = button.closest('.code-block')?.querySelector('pre')?.textContent ?? '';
  let said: string;
  try {
    await navigator.clipboard.writeText(code);
    said = 'Copied';
  } catch {
    said = 'Copy failed';
  }
  button.textContent = said;
  button.dataset.copied = said === 'Copied' ? 'yes' : 'no';
  setTimeout(() => {
    button.textContent = 'Copy';
    delete button.dataset.copied;
  }, 1500);
}
