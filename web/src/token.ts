/**
 * The page's token (an API key or JWT). It arrives as `?token=` in the page's URL, is moved
 * to sessionStorage (this tab only) and out of the address bar, and goes on the socket as
 * `?token=` (browsers cannot set headers on an upgrade) and on REST calls as a header.
 */

const TOKEN_KEY = 'agentgate.token';

/** The token from `?token=` (moved to sessionStorage and out of the address bar) or storage. */
export function initialToken(): string {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null) {
    saveToken(fromUrl);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}
