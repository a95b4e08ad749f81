/**
 * One TCP port that speaks both HTTP/2 with prior knowledge (h2c, what the SDK's default
 * NodeHttp2Handler sends to an `http://` endpoint) and HTTP/1.1 (NodeHttpHandler). Node's
 * cleartext `http2` server cannot fall back to HTTP/1.1, so each accepted socket is sniffed for
 * the HTTP/2 connection preface and handed to the matching server.
 */

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2, { type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import net, { type AddressInfo } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0');

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

/** Handles one request; `connectionId` numbers the TCP connection that carried it (1, 2, 3…). */
type RequestHandler = (req: AnyRequest, res: AnyResponse, connectionId: number) => void;

interface TransportCounters {
  connections: number;
  http2Sessions: number;
  http1Connections: number;
}

export class DualProtocolListener {
  readonly counters: TransportCounters = { connections: 0, http2Sessions: 0, http1Connections: 0 };
  readonly #tcp: net.Server;
  readonly #http1: http.Server;
  readonly #http2: http2.Http2Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  // Sockets (HTTP/1.1) and sessions (HTTP/2) → connection id. The session's own `socket` is a
  // proxy, so the id is passed to the synchronous 'session' event through #dispatching.
  readonly #connectionIds = new WeakMap<object, number>();
  #dispatching = 0;
  #nextConnectionId = 1;
  #closing: Promise<void> | undefined;

  constructor(handler: RequestHandler) {
    this.#http1 = http.createServer((req, res) => {
      handler(req, res, this.#connectionIds.get(req.socket) ?? 0);
    });
    this.#http2 = http2.createServer((req, res) => {
      const session = req.stream.session;
      handler(req, res, (session && this.#connectionIds.get(session)) ?? 0);
    });
    this.#http2.on('session', (session) => {
      this.counters.http2Sessions++;
      this.#connectionIds.set(session, this.#dispatching);
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
    });
    this.#tcp = net.createServer((socket) => this.#accept(socket));
  }

  /** Resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#tcp.once('error', reject);
      this.#tcp.listen(port, host, () => {
        this.#tcp.off('error', reject);
        resolve((this.#tcp.address() as AddressInfo).port);
      });
    });
  }

  resetCounters(): void {
    this.counters.connections = 0;
    this.counters.http2Sessions = 0;
    this.counters.http1Connections = 0;
  }

  /** Stops accepting and destroys every open connection. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      this.#tcp.close(() => resolve());
      for (const session of this.#sessions) session.destroy();
      for (const socket of this.#sockets) socket.destroy();
    });
    return this.#closing;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const connectionId = this.#nextConnectionId++;
    this.counters.connections++;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    // Resets by clients that abort are expected; the request record carries the abort.
    socket.on('error', () => socket.destroy());

    let head = Buffer.alloc(0);
    const sniff = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const length = Math.min(head.length, PREFACE.length);
      const maybeHttp2 = head.subarray(0, length).equals(PREFACE.subarray(0, length));
      if (maybeHttp2 && head.length < PREFACE.length) return;
      socket.off('data', sniff);
      socket.pause();
      socket.unshift(head);
      if (maybeHttp2) {
        // The session reads what is buffered on the socket on the next tick; resuming here
        // would drain the preface to nobody.
        this.#dispatching = connectionId;
        this.#http2.emit('connection', socket);
        this.#dispatching = 0;
      } else {
        this.counters.http1Connections++;
        this.#connectionIds.set(socket, connectionId);
        this.#http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', sniff);
  }
}
