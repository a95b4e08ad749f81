import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.ts';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({ AUTH_API_KEYS: 'key-alice:alice' });
});
afterAll(async () => {
  await gw.close();
});

/** The policy's directives by name, each with its sources. */
function directives(policy: string | null): Map<string, string[]> {
  return new Map(
    (policy ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter(([name]) => name)
      .map(([name = '', ...sources]) => [name, sources]),
  );
}

function expectSecurityHeaders(response: Response, path: string): void {
  const policy = directives(response.headers.get('content-security-policy'));
  expect(policy.get('default-src'), path).toEqual(["'self'"]);
  expect(policy.get('script-src'), path).toEqual(["'self'"]);
  expect(policy.get('style-src'), path).toEqual(["'self'"]);
  expect(policy.get('connect-src'), path).toEqual(["'self'"]);
  expect(policy.get('frame-ancestors'), path).toEqual(["'none'"]);
  expect(policy.get('object-src'), path).toEqual(["'none'"]);
  expect(policy.has('upgrade-insecure-requests'), path).toBe(false);
  expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
  expect(response.headers.get('referrer-policy'), path).toBe('no-referrer');
  expect(response.headers.get('x-frame-options'), path).toBe('DENY');
  expect(response.headers.get('strict-transport-security'), path).toBeNull();
}

describe('security headers', () => {
  it('come with the web page, its scripts, the REST routes and health', async () => {
    const auth = { authorization: 'Bearer key-alice' };
    for (const path of ['/', '/app.js', '/style.css', '/v1/models', '/health']) {
      const response = await fetch(`${gw.url}${path}`, { headers: auth });
      expect(response.status, path).toBe(200);
      expectSecurityHeaders(response, path);
    }
  });

  it('come with refusals and unknown paths too', async () => {
    const refused = await fetch(`${gw.url}/v1/models`);
    expect(refused.status).toBe(401);
    expectSecurityHeaders(refused, 'refused /v1/models');
    const missing = await fetch(`${gw.url}/no-such-page`);
    expect(missing.status).toBe(404);
    expectSecurityHeaders(missing, '/no-such-page');
  });

  it('are the ones docs/security.md shows', async () => {
    const docs = readFileSync(new URL('../../docs/security.md', import.meta.url), 'utf8');
    const shown = /`Content-Security-Policy: ([^`]+)`/.exec(docs)?.[1]?.replace(/\s+/g, ' ');
    const sent = (await fetch(`${gw.url}/health`)).headers.get('content-security-policy');
    expect(directives(shown ?? '')).toEqual(directives(sent));
  });
});
