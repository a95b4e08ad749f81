/**
 * The page's WebSocket to the gateway: opens `/v1/ws` on this host (wss on https), passes the
 * token as `?token=` (browsers cannot set headers on an upgrade) and reconnects with
 * exponential backoff and jitter until it is closed for good.
 */

const TOKEN_KEY = 'agentgate.token';
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/** The token from `?token=` (moved to sessionStorage and out of the address bar) or storage. */
export function initialToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null) {
    saveToken(fromUrl);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function saveToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class Connection {
  #socket = null;
  #token;
  #attempt = 0;
  #timer = 0;
  #stopped = false;
  #handlers;

  /**
   * @param {{ token: string, onFrame: (frame: object) => void,
   *   onStatus: (state: string, text: string) => void }} handlers
   */
  constructor(handlers) {
    this.#handlers = handlers;
    this.#token = handlers.token;
    addEventListener('online', () => this.reconnectNow());
  }

  get open() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  connect() {
    clearTimeout(this.#timer);
    this.#stopped = false;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = this.#token ? `?token=${encodeURIComponent(this.#token)}` : '';
    const socket = new WebSocket(`${scheme}//${location.host}/v1/ws${query}`);
    this.#socket = socket;
    let opened = false;
    this.#handlers.onStatus('connecting', this.#attempt ? 'Reconnecting…' : 'Connecting…');
    socket.addEventListener('open', () => {
      opened = true;
    });
    socket.addEventListener('message', (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        console.warn('agentgate: ignored a frame that is not JSON', event.data);
        return;
      }
      // A session that said `ready` is healthy: the next drop starts the backoff afresh.
      if (frame.type === 'ready') this.#attempt = 0;
      this.#handlers.onFrame(frame);
    });
    socket.addEventListener('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#stopped) return;
      if (opened) this.#retry();
      else this.#explainRefusal().then((refused) => refused || this.#retry());
    });
  }

  /** Sends a frame; false when there is no open socket. */
  send(frame) {
    if (!this.open) return false;
    this.#socket.send(JSON.stringify(frame));
    return true;
  }

  /** Drops the current socket (if any) and opens a new one at once. */
  reconnectNow() {
    if (this.#stopped && !this.#socket) return;
    this.#attempt = 0;
    const old = this.#socket;
    this.#socket = null;
    old?.close(1000, 'reconnecting');
    this.connect();
  }

  setToken(token) {
    this.#token = token;
    saveToken(token);
    this.#stopped = false;
    this.reconnectNow();
  }

  #retry() {
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.#attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.#attempt += 1;
    this.#handlers.onStatus('offline', `Disconnected — retrying in ${Math.ceil(delay / 1000)} s`);
    this.#timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * A browser is not told why an upgrade was refused; ask a REST route with the same token.
   * True when the refusal is about the token, so retrying cannot help until it changes.
   */
  async #explainRefusal() {
    try {
      const headers = this.#token ? { authorization: `Bearer ${this.#token}` } : {};
      const response = await fetch('/v1/models', { headers });
      if (response.status !== 401) return false;
    } catch {
      return false;
    }
    this.#stopped = true;
    this.#handlers.onStatus(
      'auth',
      this.#token ? 'The token was refused' : 'This gateway needs a token',
    );
    return true;
  }
}
