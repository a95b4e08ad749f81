import WebSocket from 'ws';
import { checkTurn } from './invariants.ts';

export type Frame = Record<string, unknown> & { type: string };

/**
 * A WebSocket client for tests: keeps every frame it receives and waits for the ones a
 * test expects, failing with what it did see when they do not come.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  #waiters: { test: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.test(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    );
  }

  /** Connects and waits for `ready`. */
  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    const client = new TestClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`)),
      );
    });
    await client.next((f) => f.type === 'ready');
    return client;
  }

  get ready(): Frame & { conversationId: string } {
    return this.frames.find((f) => f.type === 'ready') as Frame & { conversationId: string };
  }

  send(frame: object | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first matching frame received at index `since` or later (by default, ever). */
  next(test: (f: Frame) => boolean, timeoutMs = 10_000, since = 0): Promise<Frame> {
    const seen = this.frames.slice(since).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const types = this.frames
          .slice(since)
          .map((f) => (f.type === 'error' ? `error(${f.code}: ${f.message})` : f.type))
          .join(', ');
        reject(new Error(`no matching frame within ${timeoutMs} ms; received: ${types}`));
      }, timeoutMs);
      this.#waiters.push({
        test,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /**
   * Sends a chat and returns every frame of the turn it starts, through `turn-end`, held to
   * the protocol's turn invariants; or the error that refused the chat.
   */
  async chat(
    content: string,
    extra: Record<string, unknown> = {},
    timeoutMs = 15_000,
  ): Promise<Frame[]> {
    const since = this.frames.length;
    const requestId = `r${Math.random().toString(36).slice(2)}`;
    this.send({ type: 'chat', content, requestId, ...extra });
    const start = await this.next(
      (f) => (f.type === 'turn-start' || f.type === 'error') && f.requestId === requestId,
      timeoutMs,
      since,
    );
    if (start.type === 'error') return [start];
    const frames = await this.turnFrames(start.turnId as string, timeoutMs);
    checkTurn(frames);
    return frames;
  }

  /** Every frame received of a turn, once its `turn-end` has arrived. */
  async turnFrames(turnId: string, timeoutMs = 15_000): Promise<Frame[]> {
    await this.next((f) => f.type === 'turn-end' && f.turnId === turnId, timeoutMs, 0);
    return this.frames.filter((f) => f.turnId === turnId);
  }

  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await this.closed;
  }
}
