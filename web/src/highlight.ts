/**
 * Syntax highlighting for code blocks: highlight.js's core with a handful of common
 * languages, not its full set (which would triple the page's script). It emits class names
 * only (`hljs-keyword`…), coloured by style.css, so it needs no inline style under the CSP.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const LANGUAGES = {
  bash,
  diff,
  go,
  java,
  javascript,
  json,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
};
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

/**
 * `code` as highlighted HTML (escaped text in `<span class="hljs-…">`), with the language's
 * name, when `lang` (a fence's info string, e.g. `ts` or `python`) names a language known
 * here; undefined otherwise, and the block is shown as plain text.
 */
export function highlight(
  code: string,
  lang: string,
): { html: string; language: string } | undefined {
  const name = lang.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const language = name ? hljs.getLanguage(name) : undefined;
  if (!language) return undefined;
  const result = hljs.highlight(code, { language: name, ignoreIllegals: true });
  return { html: result.value, language: language.name ?? name };
}
