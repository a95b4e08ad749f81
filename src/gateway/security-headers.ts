import type { FastifyHelmetOptions } from '@fastify/helmet';

/**
 * The security headers of every response (web page, REST, refusals), for @fastify/helmet.
 * The web page (web/, built into dist/web) has no inline script, style or handler, so its
 * policy allows only this origin. `connect-src 'self'` covers the page's WebSocket too:
 * 'self' matches ws: and wss: on the page's own host (CSP Level 3; the browser test checks
 * it in Chromium).
 */
export const SECURITY_HEADERS: FastifyHelmetOptions = {
  contentSecurityPolicy: {
    // Helmet's defaults add `style-src https: 'unsafe-inline'` and
    // `upgrade-insecure-requests`, which would break ws:// on a plain-HTTP dev gateway.
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      // The page's favicon is an empty data: URL (no request for /favicon.ico).
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  },
  // Older browsers' form of frame-ancestors 'none'.
  xFrameOptions: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
  // HSTS belongs to whoever terminates TLS (the proxy): it binds the whole host name, and
  // this process only ever sees plain HTTP.
  strictTransportSecurity: false,
};
