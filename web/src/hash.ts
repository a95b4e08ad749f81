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
  return CONVERSATION_ID.test(id) ? id : null;
}

/**
 * The ids a conversation may have: the gateway's own (`c_…`) and those clients make (AI SDK
 * chat ids, AG-UI thread ids), as the gateway accepts them (a test holds the two together).
 */
export const CONVERSATION_ID = /^[\w-][\w.:-]{0,199}$/;

/** Puts an id in the hash, or clears the hash for null. */
export function setHash(id: string | null): void {
  const url = new URL(location.href);
  url.hash = id ? encodeURIComponent(id) : '';
  if (url.href !== location.href) {
    history.replaceState(history.state, '', id ? url : url.pathname + url.search);
  }
}
