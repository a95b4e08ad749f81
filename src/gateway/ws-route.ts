import type {} from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { CLOSE_CODES, errorBody, ProtocolError } from '../protocol/errors.ts';
import type { ServerFrame } from '../protocol/frames.ts';
import { Session, type SessionDeps } from './session.ts';

const HEARTBEAT_MS = 30_000;

/**
 * `GET /v1/ws`: one Session per socket. The message listener is attached synchronously
 * (frames sent right after the upgrade are not lost) and frames of one socket are handled
 * one after another, in order.
 */
export function registerWebSocketRoute(app: FastifyInstance, deps: SessionDeps): void {
  const socketsPerUser = new Map<string, number>();
  const sockets = new Set<WebSocket>();

  const heartbeat = setInterval(() => {
    for (const socket of sockets) {
      const alive = socket as WebSocket & { isAlive?: boolean };
      if (alive.isAlive === false) {
        socket.terminate();
        continue;
      }
      alive.isAlive = false;
      socket.ping();
    }
  }, HEARTBEAT_MS).unref();
  app.addHook('onClose', async () => clearInterval(heartbeat));

  app.get('/v1/ws', { websocket: true, config: { upgrade: true } }, (socket, request) => {
    const userId = request.userId;
    const session = new Session(
      userId,
      {
        send: (json) => socket.send(json),
        close: (code, reason) => socket.close(code, reason),
        get bufferedAmount() {
          return socket.bufferedAmount;
        },
      },
      deps,
    );
    let queue = Promise.resolve();
    socket.on('message', (data, isBinary) => {
      queue = queue.then(() => session.receive(data as Buffer, isBinary));
    });
    socket.on('pong', () => {
      (socket as WebSocket & { isAlive?: boolean }).isAlive = true;
    });
    socket.on('close', () => {
      deps.metrics.socketsOpen.dec();
      sockets.delete(socket);
      session.close();
      const count = (socketsPerUser.get(userId) ?? 1) - 1;
      if (count > 0) socketsPerUser.set(userId, count);
      else socketsPerUser.delete(userId);
    });
    socket.on('error', (error) => request.log.warn({ err: error }, 'socket error'));

    sockets.add(socket);
    deps.metrics.socketsOpen.inc();
    const count = (socketsPerUser.get(userId) ?? 0) + 1;
    socketsPerUser.set(userId, count);
    if (count > deps.limits.maxSocketsPerUser) {
      const refusal = new ProtocolError(
        'rate_limited',
        `Too many open sockets for this user (limit ${deps.limits.maxSocketsPerUser}).`,
      );
      socket.send(JSON.stringify({ type: 'error', ...errorBody(refusal) } satisfies ServerFrame));
      socket.close(CLOSE_CODES.tryAgainLater, 'too many sockets');
      return;
    }
    queue = session.start();
  });
}
