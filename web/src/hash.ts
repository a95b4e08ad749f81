/**
 * The shown conversation's id lives in the URL hash (`/#c_…`), so a reload or a shared link
 * opens the same conversation. replaceState: switching conversations adds no history entries.
 */

/** The conversation id in the hash, or null when there is none (or it is not an id). */
export function conversationFromHash(): string | null {
  let id: string;
  try {
    id = decodeURIComponent(location.hash.slice(1));
  } catch {
    return null;
  }
  return /^[\w-]{1,200}$/.test(id) ? id : null;
}

/** Puts an id in the hash, or clears the hash for null. */
export function setHash(id: string | null): void {
  const url = new URL(location.href);
  url.hash = id ? encodeURIComponent(id) : '';
  if (url.href !== location.href) {
    history.replaceState(history.state, '', id ? url : url.pathname + url.search);
  }
}
