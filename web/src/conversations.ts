/**
 * The conversation list (the sidebar; a drawer on narrow screens): the user's conversations
 * from `GET /v1/conversations`, newest activity first, to switch to, and to delete (a second
 * click confirms). The page refreshes it when it connects, when a turn of the shown
 * conversation starts or ends, after a delete, and when the tab comes back into view.
 */

import { type Api, ApiError, type ConversationEntry } from './api.ts';
import { el } from './dom.ts';
import { since } from './format.ts';

const CONFIRM_MS = 4000;

export interface ConversationListEvents {
  /** The person picked a conversation. */
  open(id: string): void;
  /** A conversation was deleted (it may be the one shown). */
  deleted(id: string): void;
  /** The list changed (what it knows of a conversation, its agent say, may be new). */
  changed(): void;
}

export class ConversationList {
  readonly #list: HTMLElement;
  readonly #more: HTMLButtonElement;
  readonly #status: HTMLElement;
  readonly #events: ConversationListEvents;
  #api: Api | null = null;
  #entries: ConversationEntry[] = [];
  #next: string | null = null;
  #current: string | null = null;
  /** A refresh runs; `again`: another was asked meanwhile, so the list may be stale. */
  #loading: Promise<void> | null = null;
  #again = false;

  constructor(
    elements: { list: HTMLElement; more: HTMLButtonElement; status: HTMLElement },
    events: ConversationListEvents,
  ) {
    this.#list = elements.list;
    this.#more = elements.more;
    this.#status = elements.status;
    this.#events = events;
    this.#more.addEventListener('click', () => void this.#loadMore());
  }

  /** The REST client to use (a new token makes a new one); null clears the list. */
  setApi(api: Api | null): void {
    this.#api = api;
    if (!api) {
      this.#entries = [];
      this.#next = null;
      this.#draw();
    }
  }

  /** Marks the conversation shown. */
  setCurrent(id: string | null): void {
    this.#current = id;
    for (const item of this.#list.querySelectorAll<HTMLElement>('[data-id]')) {
      const open = item.querySelector('.conversation-open');
      if (item.dataset.id === id) open?.setAttribute('aria-current', 'true');
      else open?.removeAttribute('aria-current');
    }
  }

  /** What the list knows of a conversation (its agent, say), if it is listed. */
  entry(id: string): ConversationEntry | undefined {
    return this.#entries.find((entry) => entry.id === id);
  }

  /** Loads the first page again; calls made while one loads coalesce into one more. */
  refresh(): Promise<void> {
    if (this.#loading) {
      this.#again = true;
      return this.#loading;
    }
    this.#loading = (async () => {
      do {
        this.#again = false;
        await this.#load();
      } while (this.#again);
      this.#loading = null;
    })();
    return this.#loading;
  }

  async #load(): Promise<void> {
    const api = this.#api;
    if (!api) return;
    try {
      const page = await api.conversations();
      if (api !== this.#api) return;
      this.#entries = page.conversations;
      this.#next = page.next;
      this.#say('');
    } catch (error) {
      this.#say(`The list could not be loaded: ${(error as Error).message}`);
    }
    this.#draw();
  }

  async #loadMore(): Promise<void> {
    const api = this.#api;
    if (!api || !this.#next) return;
    this.#more.disabled = true;
    try {
      const page = await api.conversations(this.#next);
      const known = new Set(this.#entries.map((entry) => entry.id));
      this.#entries.push(...page.conversations.filter((entry) => !known.has(entry.id)));
      this.#next = page.next;
    } catch (error) {
      this.#say(`More could not be loaded: ${(error as Error).message}`);
    } finally {
      this.#more.disabled = false;
    }
    this.#draw();
  }

  async #delete(entry: ConversationEntry): Promise<void> {
    const api = this.#api;
    if (!api) return;
    try {
      await api.deleteConversation(entry.id);
    } catch (error) {
      // Already gone is what was asked for.
      if (!(error instanceof ApiError && error.status === 404)) {
        const why =
          error instanceof ApiError && error.code === 'turn_in_progress'
            ? 'it is answering; stop it first'
            : (error as Error).message;
        this.#say(`“${entry.title || entry.id}” was not deleted: ${why}`);
        return;
      }
    }
    this.#say('');
    this.#entries = this.#entries.filter((e) => e.id !== entry.id);
    this.#draw();
    this.#events.deleted(entry.id);
    void this.refresh();
  }

  #say(text: string): void {
    this.#status.textContent = text;
    this.#status.hidden = text === '';
  }

  #draw(): void {
    const items = this.#entries.map((entry) => this.#item(entry));
    if (items.length === 0) {
      items.push(el('li', { class: 'conversation-empty' }, 'No conversations yet.'));
    }
    this.#list.replaceChildren(...items);
    this.#more.hidden = this.#next === null;
    this.setCurrent(this.#current);
    this.#events.changed();
  }

  #item(entry: ConversationEntry): HTMLElement {
    const title = entry.title || 'Untitled';
    const meta = [since(entry.updatedAt)];
    if (entry.agent) meta.push(entry.agent);
    const open = el(
      'button',
      { type: 'button', class: 'conversation-open', title },
      el('span', { class: 'conversation-title' }, title),
      el(
        'span',
        { class: 'conversation-meta' },
        entry.runningTurnId ? el('span', { class: 'running-dot' }, 'answering · ') : null,
        meta.join(' · '),
      ),
    );
    open.addEventListener('click', () => this.#events.open(entry.id));
    const remove = el(
      'button',
      {
        type: 'button',
        class: 'conversation-delete',
        'aria-label': `Delete “${title}”`,
        title: 'Delete',
      },
      '×',
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reset = () => {
      clearTimeout(timer);
      delete remove.dataset.confirm;
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Delete “${title}”`);
    };
    remove.addEventListener('click', () => {
      if (remove.dataset.confirm === undefined) {
        remove.dataset.confirm = '';
        remove.textContent = 'Delete?';
        remove.setAttribute('aria-label', `Confirm: delete “${title}”`);
        timer = setTimeout(reset, CONFIRM_MS);
        return;
      }
      reset();
      remove.disabled = true;
      void this.#delete(entry).finally(() => {
        remove.disabled = false;
      });
    });
    remove.addEventListener('blur', reset);
    return el(
      'li',
      { class: 'conversation', 'data-id': entry.id, 'data-running': entry.runningTurnId !== null },
      open,
      remove,
    );
  }
}
