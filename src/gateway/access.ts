import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { ANONYMOUS, authenticate, tokenOf } from './auth.ts';
import { sendHttpError } from './http-error.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Who may call the route: `public` (anyone) or `user` (a valid token when auth is on).
     * A route that declares nothing, and a path that matches no route, is `user`.
     */
    access?: 'public' | 'user';
    /** The route upgrades to WebSocket: the only routes an upgrade request may reach. */
    upgrade?: boolean;
    /**
     * The route serves browser pages of other origins (the HTTP adapters, their CORS
     * preflights included): a request with an `Origin` is checked as an upgrade is.
     */
    crossOrigin?: boolean;
  }
}

/**
 * Decides every request on the route the router matched (its config), never on the raw
 * URL: `/%761/ws` and `/v1/ws` reach the same route and the same check, and an upgrade
 * request for anything but an upgrade route is refused 404 before any upgrade happens.
 * Must be registered after @fastify/websocket, whose own hook marks upgrade requests.
 */
export function registerAccess(
  app: FastifyInstance,
  options: { auth: Config['auth']; allowedOrigins: Config['allowedOrigins'] },
): void {
  app.decorateRequest('userId', ANONYMOUS);
  app.addHook('onRequest', async (request, reply) => {
    const { access = 'user', upgrade = false, crossOrigin = false } = request.routeOptions.config;
    if (request.ws && (!upgrade || request.is404)) {
      return sendHttpError(
        reply,
        new ProtocolError('not_found', 'No WebSocket endpoint here; connect to /v1/ws.'),
      );
    }
    // No Origin: not a browser (wscat, scripts), which origin checks cannot concern.
    const origin = request.headers.origin;
    if ((upgrade || crossOrigin) && origin !== undefined && !originAllowed(origin, options)) {
      return sendHttpError(reply, new ProtocolError('forbidden', 'Origin not allowed.'));
    }
    if (access === 'public' || !options.auth.enabled) return;
    const userId = await authenticate(options.auth, tokenOf(request));
    if (!userId) {
      return sendHttpError(
        reply,
        new ProtocolError('unauthorized', 'A valid API key or token is required.'),
      );
    }
    request.userId = userId;
  });
}

/**
 * ALLOWED_ORIGINS when set. Without it, any origin when auth is on (a page still needs a
 * token), but only loopback pages when auth is off: otherwise any web site its user visits
 * could drive the gateway (and spend its AWS credentials) through the browser.
 */
export function originAllowed(
  origin: string,
  options: { auth: Config['auth']; allowedOrigins: Config['allowedOrigins'] },
): boolean {
  if (options.allowedOrigins) return options.allowedOrigins.includes(origin);
  if (options.auth.enabled) return true;
  try {
    const { hostname } = new URL(origin);
    return LOOPBACK.has(hostname) || hostname.endsWith('.localhost');
  } catch {
    // Not a URL ("null" from a sandboxed frame or a file): not a loopback page.
    return false;
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Marks every route registered in `scope` as public (for plugins that take no route config). */
export function markRoutesPublic(scope: FastifyInstance): void {
  scope.addHook('onRoute', (route) => {
    route.config = { ...route.config, access: 'public' };
  });
}
