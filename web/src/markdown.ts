/**
 * The assistant's answers as markdown: marked parses, DOMPurify sanitizes, highlight.js
 * colours code. Model output is untrusted: raw HTML in it is shown as the text it is (never
 * parsed as elements), images become links (the CSP would refuse other hosts anyway), and
 * DOMPurify keeps only the elements and attributes markdown needs, with http(s) and mailto
 * links, so nothing in an answer can run script, load anything, or set an inline style.
 */
import DOMPurify from 'dompurify';
import { Marked } from 'marked';
import { el } from './dom.ts';
import { highlight } from './highlight.ts';

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }) {
      const lit = highlight(text, lang ?? '');
      const language = lit?.language ?? lang?.trim().split(/\s+/)[0] ?? '';
      const label = language ? ` data-language="${escapeHtml(language)}"` : '';
      return `<pre${label}><code class="hljs">${lit?.html ?? escapeHtml(text)}</code></pre>\n`;
    },
    image({ href, text }) {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
    checkbox({ checked }) {
      return checked ? '☑ ' : '☐ ';
    },
  },
});

const ALLOWED_TAGS = [
  'a',
  'blockquote',
  'br',
  'code',
  'del',
  'em',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'li',
  'ol',
  'p',
  'pre',
  'span',
  'strong',
  'table',
  'tbody',
  'td',
  'th',
  'thead',
  'tr',
  'ul',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start', 'align', 'data-language'];

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
});

/**
 * Markdown as sanitized DOM. Each code block comes in a `.code-block` with its language and
 * a Copy button (`data-copy`; the transcript handles its clicks, so a re-render needs no
 * listener).
 */
export function renderMarkdown(source: string): DocumentFragment {
  const html = (marked.parse(source) as string).trim();
  const fragment = DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
    RETURN_DOM_FRAGMENT: true,
  });
  for (const pre of fragment.querySelectorAll('pre')) {
    const language = pre.dataset.language ?? '';
    const head = el(
      'div',
      { class: 'code-head' },
      el('span', { class: 'code-lang' }, language || 'text'),
      el('button', { type: 'button', class: 'copy', 'data-copy': '' }, 'Copy'),
    );
    const block = el('div', { class: 'code-block' });
    pre.replaceWith(block);
    block.append(head, pre);
  }
  return fragment;
}

/** Markdown texts with changes not yet on screen; drawn at the next animation frame. */
const dirty = new Set<MarkdownText>();
let frame = 0;

function drawDirty(): void {
  frame = 0;
  const texts = [...dirty];
  dirty.clear();
  for (const text of texts) text.flush();
}

/**
 * A piece of streamed markdown: `append` takes tokens as they come, and the text is parsed
 * and drawn again at most once per animation frame (not once per token), so a fast stream
 * costs one parse per frame, and a tab in the background none until it is seen.
 */
export class MarkdownText {
  readonly node: HTMLElement;
  #source = '';
  #drawn = '';
  readonly #draw: (change: () => void) => void;

  /** `draw(change)` runs the DOM change (the transcript keeps the view pinned around it). */
  constructor(draw: (change: () => void) => void = (change) => change()) {
    this.node = el('div', { class: 'text markdown' });
    this.#draw = draw;
  }

  get source(): string {
    return this.#source;
  }

  append(text: string): void {
    this.#source += text;
    dirty.add(this);
    if (frame === 0) frame = requestAnimationFrame(drawDirty);
  }

  /** Draws now what was appended (at the end of a turn, so the answer is final at once). */
  flush(): void {
    dirty.delete(this);
    if (this.#drawn === this.#source) return;
    this.#drawn = this.#source;
    const fragment = renderMarkdown(this.#source);
    this.#draw(() => this.node.replaceChildren(fragment));
  }
}
