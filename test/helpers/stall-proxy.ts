import net from 'node:net';

/**
 * A TCP proxy in front of a real server (Redis) that can hold what clients send: while
 * held, the server answers nothing new, so a request of the gateway that needs it waits
 * there, at a point the test chooses. Released, the held bytes go on in order. The way to
 * make a real step slow on purpose (an admission that waits on Redis).
 */
export class StallProxy {
  readonly #server: net.Server;
  readonly #links = new Set<{ client: net.Socket; upstream: net.Socket; held: Buffer[] }>();
  #holding = false;
  #heldText = '';
  #onHeld: (() => void) | undefined;

  private constructor(server: net.Server) {
    this.#server = server;
  }

  /** Listens on a free port of 127.0.0.1 and forwards each connection to `target`. */
  static async start(target: { host: string; port: number }): Promise<StallProxy> {
    const server = net.createServer();
    const proxy = new StallProxy(server);
    server.on('connection', (client) => proxy.#link(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** Where clients connect: `redis://127.0.0.1:<port>`. */
  get url(): string {
    const address = this.#server.address() as net.AddressInfo;
    return `redis://127.0.0.1:${address.port}`;
  }

  /** Holds what clients send from now on. */
  hold(): void {
    this.#holding = true;
    this.#heldText = '';
  }

  /** Resolves once the bytes held since {@link hold} contain `text` (a key, an id). */
  async held(text: string, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.#heldText.includes(text)) {
      if (Date.now() > until) throw new Error(`nothing held contains ${text} in ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#onHeld = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  /** Sends on everything held, in order, and stops holding. */
  release(): void {
    this.#holding = false;
    for (const link of this.#links) {
      for (const chunk of link.held.splice(0)) link.upstream.write(chunk);
    }
  }

  async close(): Promise<void> {
    this.release();
    for (const { client, upstream } of this.#links) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #link(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target);
    const link = { client, upstream, held: [] as Buffer[] };
    this.#links.add(link);
    client.on('data', (chunk: Buffer) => {
      if (!this.#holding) {
        upstream.write(chunk);
        return;
      }
      link.held.push(chunk);
      this.#heldText += chunk.toString('latin1');
      this.#onHeld?.();
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      this.#links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
