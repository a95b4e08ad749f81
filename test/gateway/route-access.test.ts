import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * Access is decided on the route the router matched, never on the raw URL: every spelling
 * of every route (percent-encoded, doubled slashes, dot segments, case, trailing slash,
 * query tricks) is refused or reaches the route's own check; nothing is upgraded but the
 * WebSocket route, and that one only with credentials.
 */

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway({
    AUTH_API_KEYS: 'k1:alice',
    ALLOWED_ORIGINS: 'https://good.example',
  });
});
afterAll(async () => {
  await gw.close();
});

interface Answer {
  status: number;
  body: string;
}

/** Sends `path` byte for byte (no client-side normalisation) and reads the answer. */
function request(
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    upgrade?: boolean;
    base?: string;
  } = {},
): Promise<Answer> {
  const { port } = new URL(options.base ?? gw.url);
  const headers: Record<string, string> = { ...options.headers };
  if (options.upgrade) {
    Object.assign(headers, {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': randomBytes(16).toString('base64'),
    });
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

const WS_SPELLINGS = [
  '/v1/ws',
  '/%761/ws',
  '/v%31/ws',
  '/%76%31/%77%73',
  '/v1/%77s',
  '/%2576%31/ws',
  '//v1/ws',
  '/v1//ws',
  '///v1/ws',
  '/V1/ws',
  '/v1/WS',
  '/v1/ws/',
  '/v1/ws//',
  '/v1/./ws',
  '/./v1/ws',
  '/v1/x/../ws',
  '/x/../v1/ws',
  '/v1/ws/.',
  '/v1%2Fws',
  '/v1%2fws',
  '/v1/ws%00',
  '/v1/ws%20',
  '/v1/ws;x',
  '/v1/ws?',
  '/v1/ws?token=',
  '/v1/ws?token=wrong',
  '/v1/ws?/health',
  '/v1/ws?x=/health&token=',
  '/health/../v1/ws',
  '/v1/ws#frag',
];

describe('WebSocket upgrades', () => {
  it.each(WS_SPELLINGS)(
    'refuses %s with a bad origin and no token, without upgrading',
    async (path) => {
      const { status } = await request(path, {
        upgrade: true,
        headers: { origin: 'https://evil.example' },
      });
      expect([401, 403, 404]).toContain(status);
    },
  );

  it.each(WS_SPELLINGS)('refuses %s without a token, without upgrading', async (path) => {
    const { status } = await request(path, { upgrade: true });
    expect([401, 404]).toContain(status);
  });

  it.each(['/', '/index.html', '/app.js', '/health', '/ready', '/metrics', '/v1/models', '/nope'])(
    'never upgrades %s, a route that is not the WebSocket, even with a token',
    async (path) => {
      const { status } = await request(path, {
        upgrade: true,
        headers: { authorization: 'Bearer k1' },
      });
      expect(status).toBe(404);
    },
  );

  it('upgrades /v1/ws with a token and an allowed origin, and only then', async () => {
    const ok = await request('/v1/ws', {
      upgrade: true,
      headers: { authorization: 'Bearer k1', origin: 'https://good.example' },
    });
    expect(ok.status).toBe(101);
    const spelled = await request('/%761/ws', {
      upgrade: true,
      headers: { authorization: 'Bearer k1', origin: 'https://evil.example' },
    });
    expect(spelled.status).toBe(403);
  });

  it('authenticates a percent-encoded spelling of the route as the route itself', async () => {
    const spelled = `${gw.url.replace('http', 'ws')}/%761/ws`;
    await expect(TestClient.connect(spelled)).rejects.toThrow(/HTTP 401/);
    const alice = await TestClient.connect(`${spelled}?token=k1`);
    expect(alice.ready.userId).toBe('alice');
    await alice.close();
  });
});

const USER_ROUTES = [
  ['GET', '/metrics'],
  ['GET', '/v1/models'],
  ['GET', '/v1/conversations'],
  ['GET', '/v1/conversations/c_x/messages'],
  ['DELETE', '/v1/conversations/c_x'],
  ['POST', '/v1/ai-sdk/chat'],
  ['GET', '/v1/ai-sdk/chat/c_x/stream'],
  ['POST', '/v1/ag-ui'],
  ['POST', '/v1/conversations/c_x/cancel'],
] as const;

/** Spellings of a path: encoded, doubled, cased, dotted, trailing, with query tricks. */
function spellings(path: string): string[] {
  const [, first = '', ...rest] = path.split('/');
  const encodedFirst = `%${first.charCodeAt(0).toString(16)}${first.slice(1)}`;
  const all = [
    path,
    `/${encodedFirst}/${rest.join('/')}`.replace(/\/$/, ''),
    `/${encodedFirst.toUpperCase()}${rest.length ? `/${rest.join('/')}` : ''}`,
    `/${[...first].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}${rest.length ? `/${rest.join('/')}` : ''}`,
    `/${path}`,
    path.replace(/\/(?=[^/]*$)/, '//'),
    path.toUpperCase(),
    `${path}/`,
    `/.${path}`,
    `/x/..${path}`,
    `/health/..${path}`,
    `${path}?token=`,
    `${path}?token=wrong`,
    `${path}?/health`,
    `${path};x`,
    `${path}%00`,
  ];
  return [...new Set(all)];
}

describe('REST routes', () => {
  for (const [method, route] of USER_ROUTES) {
    it.each(spellings(route))(`never answers ${method} %s without a token`, async (path) => {
      const { status, body } = await request(path, { method });
      expect([401, 403, 404]).toContain(status);
      expect(body).not.toContain('process_cpu');
      expect(body).not.toContain('"models"');
      expect(body).not.toContain('"conversations"');
    });
  }

  it.each(['/health', '/ready', '/', '/app.js'])(
    'answers the public %s without a token',
    async (path) => {
      expect((await request(path)).status).toBe(200);
    },
  );

  it('answers the user routes with a token', async () => {
    const headers = { authorization: 'Bearer k1' };
    expect((await request('/metrics', { headers })).body).toContain('process_cpu');
    expect((await request('/%6detrics', { headers })).status).toBe(200);
    expect((await request('/v1/models', { headers })).body).toContain('"models"');
    expect((await request('/v1/conversations', { headers })).body).toContain('"conversations"');
  });

  it('refuses an unknown method or path without a token and hides nothing with one', async () => {
    expect([401, 404]).toContain((await request('/v1/nothing', { method: 'POST' })).status);
    const { status } = await request('/v1/nothing', {
      method: 'POST',
      headers: { authorization: 'Bearer k1' },
    });
    expect(status).toBe(404);
  });
});

describe('origins when auth is off and ALLOWED_ORIGINS is not set', () => {
  let open: TestGateway;
  beforeAll(async () => {
    open = await startGateway({});
  });
  afterAll(async () => {
    await open.close();
  });

  it.each([
    ['https://evil.example', 403],
    ['http://attacker.example:3000', 403],
    ['null', 403],
    ['http://localhost:5173', 101],
    ['http://127.0.0.1:3000', 101],
    ['http://[::1]:8080', 101],
    ['http://app.localhost', 101],
  ])('answers an upgrade from a page at %s with %i', async (origin, status) => {
    const answer = await request('/v1/ws', {
      upgrade: true,
      headers: { origin },
      base: open.url,
    });
    expect(answer.status).toBe(status);
  });

  it('upgrades a client that sends no Origin (wscat, scripts)', async () => {
    expect((await request('/v1/ws', { upgrade: true, base: open.url })).status).toBe(101);
  });
});
