/**
 * What the client needs of a WebSocket, written structurally so that the browser's own,
 * Node 22's global one and the `ws` package all fit, and nothing Node-only is imported.
 */

/** The events the client listens to; `ws` and browsers both deliver these shapes. */
export interface SocketEventMap {
  open: unknown;
  message: { data: unknown };
  close: { code: number; reason: string };
  error: { message?: string; error?: unknown };
}

/** The part of the standard WebSocket interface the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener<K extends keyof SocketEventMap>(
    type: K,
    listener: (event: SocketEventMap[K]) => void,
  ): void;
}

/**
 * A WebSocket constructor: the global one in browsers, or e.g. `ws`'s default export in
 * Node. The third argument is `ws`'s options (it carries the `Authorization` header); a
 * browser's constructor ignores it.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => WebSocketLike;

/** `WebSocket.OPEN`, the same in every implementation. */
export const OPEN = 1;

/** Where the token goes: an `Authorization` header (Node) or `?token=` (browsers). */
export type TokenPlacement = 'header' | 'query';

/** The URL and constructor arguments of one connection attempt. */
export function socketArguments(
  url: string,
  token: string | undefined,
  via: TokenPlacement,
): { url: string; options: { headers?: Record<string, string> } } {
  if (!token) return { url, options: {} };
  if (via === 'header') return { url, options: { headers: { authorization: `Bearer ${token}` } } };
  const withToken = new URL(url);
  withToken.searchParams.set('token', token);
  return { url: withToken.toString(), options: {} };
}

/** The HTTP status of a refused upgrade when the implementation says it (`ws` does). */
export function refusedStatus(event: { message?: string; error?: unknown }): number | undefined {
  const message =
    event.message ?? (event.error instanceof Error ? event.error.message : undefined) ?? '';
  const match = /Unexpected server response: (\d{3})/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/** How long the token check may take before it counts as no answer (and the client retries). */
export const TOKEN_CHECK_TIMEOUT_MS = 5000;

/**
 * Whether the gateway refuses this token, asked over HTTP: a browser is not told why an
 * upgrade failed, so the client asks `GET <base>/models` (the REST route beside `/v1/ws`)
 * with the same token. True only for a definite 401; anything else (network error, a
 * cross-origin page without CORS, no answer within `timeoutMs`) says nothing, so that a
 * gateway that hangs cannot hold the reconnect back forever.
 */
export async function tokenRefused(
  url: string,
  token: string | undefined,
  timeoutMs = TOKEN_CHECK_TIMEOUT_MS,
): Promise<boolean> {
  const fetcher = (globalThis as { fetch?: typeof fetch }).fetch;
  if (!fetcher) return false;
  try {
    const http = new URL('models', url);
    http.protocol = http.protocol === 'wss:' ? 'https:' : 'http:';
    http.search = '';
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    // Older browsers lack AbortSignal.timeout: they wait as long as the fetch does.
    const signal = AbortSignal.timeout?.(timeoutMs);
    const response = await fetcher(http, { headers, ...(signal ? { signal } : {}) });
    await response.body?.cancel();
    return response.status === 401;
  } catch {
    return false;
  }
}
