import { createHmac, generateKeyPairSync, sign as signWith } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Emulator, startEmulator } from '../emulator/index.ts';
import { startGateway, type TestGateway, withGateway } from '../helpers/gateway.ts';
import { TestClient } from '../helpers/ws-client.ts';

/**
 * JWT auth against the real gateway: tokens are made here by hand (not with the library
 * the gateway verifies them with), so that malformed claims and headers can be sent too.
 */

const SECRET = 'a-jwt-secret-of-32-characters-ok';
const now = () => Math.floor(Date.now() / 1000);
const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A compact JWT with these claims, HS256-signed with `key` (or with the header given). */
function jwt(claims: object, key = SECRET, header: object = { alg: 'HS256', typ: 'JWT' }) {
  const body = `${part(header)}.${part(claims)}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

const valid = (claims: object = {}) => jwt({ sub: 'carol', exp: now() + 60, ...claims });

let emulator: Emulator;
let gw: TestGateway;

beforeAll(async () => {
  emulator = await startEmulator({ paceMs: 0 });
  gw = await startGateway({ AUTH_JWT_SECRET: SECRET, AUTH_API_KEYS: 'key-bob:bob' }, emulator);
});
afterAll(async () => {
  await gw?.close();
  await emulator?.close();
});

/** The HTTP status of `GET /v1/models` with this Authorization header. */
async function statusWith(authorization: string, target = gw): Promise<number> {
  return (await fetch(`${target.url}/v1/models`, { headers: { authorization } })).status;
}
const statusOf = (token: string, target = gw) => statusWith(`Bearer ${token}`, target);

/** The status an upgrade is refused with; fails when the socket opens. */
const refusal = (url: string) =>
  new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    ws.on('open', () => reject(new Error('upgrade was accepted')));
  });

describe('JWT auth', () => {
  it('accepts an HS256 JWT as the user jwt:<sub>, and refuses a forged or expired one', async () => {
    const carol = await gw.connect(`?token=${valid()}`);
    expect(carol.ready.userId).toBe('jwt:carol');
    await carol.close();
    expect(
      await refusal(`${gw.wsUrl}?token=${jwt({ sub: 'carol', exp: now() + 60 }, 'x'.repeat(32))}`),
    ).toBe(401);
    expect(await refusal(`${gw.wsUrl}?token=${valid({ exp: now() - 1 })}`)).toBe(401);
    expect(await refusal(`${gw.wsUrl}?token=${jwt({ exp: now() + 60 })}`)).toBe(401);
  });

  it('refuses a JWT whose exp is not a number, such as a past date string', async () => {
    expect(await statusOf(valid({ exp: '2001-01-01T00:00:00Z' }))).toBe(401);
    expect(await statusOf(valid({ exp: String(now() + 60) }))).toBe(401);
    expect(await statusOf(valid({ iat: 'yesterday' }))).toBe(401);
    expect(await statusOf(valid({ nbf: '2001-01-01' }))).toBe(401);
  });

  it('refuses a JWT without exp', async () => {
    expect(await statusOf(jwt({ sub: 'carol' }))).toBe(401);
  });

  it('refuses a JWT before its nbf and accepts it from then on', async () => {
    expect(await statusOf(valid({ nbf: now() + 60 }))).toBe(401);
    expect(await statusOf(valid({ nbf: now() - 1 }))).toBe(200);
  });

  it('refuses alg none and RS256 tokens', async () => {
    const claims = { sub: 'carol', exp: now() + 60 };
    const none = `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
    expect(await statusOf(none)).toBe(401);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const body = `${part({ alg: 'RS256', typ: 'JWT' })}.${part(claims)}`;
    const rs256 = `${body}.${signWith('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
    expect(await statusOf(rs256)).toBe(401);
    // An HS256 signature under an RS256 header is refused too.
    expect(await statusOf(jwt(claims, SECRET, { alg: 'RS256', typ: 'JWT' }))).toBe(401);
  });

  it('accepts a sub of 256 characters and refuses an empty one or one over 256', async () => {
    expect(await statusOf(valid({ sub: 'é'.repeat(256) }))).toBe(200);
    expect(await statusOf(valid({ sub: 'a'.repeat(257) }))).toBe(401);
    // As long as fits in Node's 16 KiB of request headers once base64url-encoded.
    expect(await statusOf(valid({ sub: 'a'.repeat(10_000) }))).toBe(401);
    expect(await statusOf(valid({ sub: '' }))).toBe(401);
    expect(await statusOf(valid({ sub: 42 }))).toBe(401);
  });

  it('refuses a sub holding a control character', async () => {
    for (const sub of ['car\nol', 'carol\u0000', '\u001b[31mred', 'del\u007f', 'c1\u0085']) {
      expect(await statusOf(valid({ sub })), JSON.stringify(sub)).toBe(401);
    }
  });

  it('keeps a JWT sub apart from the API-key user of the same name', async () => {
    const apiBob = await TestClient.connect(gw.wsUrl, {
      headers: { authorization: 'Bearer key-bob' },
    });
    const jwtBob = await gw.connect(`?token=${valid({ sub: 'bob' })}`);
    expect(apiBob.ready.userId).toBe('bob');
    expect(jwtBob.ready.userId).toBe('jwt:bob');
    emulator.enqueue({ blocks: [{ text: 'for the key holder only' }] });
    await apiBob.chat('private to the API-key bob');
    const id = apiBob.ready.conversationId;
    const asJwtBob = await fetch(`${gw.url}/v1/conversations/${id}/messages`, {
      headers: { authorization: `Bearer ${valid({ sub: 'bob' })}` },
    });
    expect(asJwtBob.status).toBe(404);
    await apiBob.close();
  });

  it('takes the auth scheme in any case', async () => {
    for (const scheme of ['bearer', 'BEARER', 'bEaReR']) {
      expect(await statusWith(`${scheme} ${valid()}`), scheme).toBe(200);
      expect(await statusWith(`${scheme} key-bob`), scheme).toBe(200);
    }
    const lower = await TestClient.connect(gw.wsUrl, {
      headers: { authorization: `bearer ${valid()}` },
    });
    expect(lower.ready.userId).toBe('jwt:carol');
    await lower.close();
    expect(await statusWith(`Basic ${valid()}`)).toBe(401);
  });
});

describe('JWT issuer and audience', () => {
  const env = {
    AUTH_JWT_SECRET: SECRET,
    AUTH_JWT_ISSUER: 'https://issuer.example',
    AUTH_JWT_AUDIENCE: 'agentgate',
  };

  it('requires iss to equal AUTH_JWT_ISSUER and aud to include AUTH_JWT_AUDIENCE', async () => {
    await withGateway(
      env,
      async (strict) => {
        const iss = 'https://issuer.example';
        expect(await statusOf(valid({ iss, aud: 'agentgate' }), strict)).toBe(200);
        expect(await statusOf(valid({ iss, aud: ['other', 'agentgate'] }), strict)).toBe(200);
        expect(await statusOf(valid({ aud: 'agentgate' }), strict)).toBe(401);
        expect(
          await statusOf(valid({ iss: 'https://evil.example', aud: 'agentgate' }), strict),
        ).toBe(401);
        expect(await statusOf(valid({ iss }), strict)).toBe(401);
        expect(await statusOf(valid({ iss, aud: ['other'] }), strict)).toBe(401);
      },
      { emulator },
    );
  });

  it('ignores iss and aud when they are not configured', async () => {
    expect(await statusOf(valid({ iss: 'anyone', aud: 'anything' }))).toBe(200);
  });
});
