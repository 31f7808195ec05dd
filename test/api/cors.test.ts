import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeApp } from './helpers.ts';

const ORIGIN = 'https://app.example.com';

test('without an allowlist no CORS header is ever sent', async () => {
  const { app } = await makeApp();
  const res = await app.inject({ method: 'GET', url: '/health', headers: { origin: ORIGIN } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['access-control-allow-origin'], undefined);
  await app.close();
});

test('an allowed origin gets CORS headers (preflight included); others get none', async () => {
  const { app } = await makeApp({ corsOrigins: [ORIGIN] });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/api/v1/sandboxes',
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(preflight.statusCode, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], ORIGIN);
  assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);
  const get = await app.inject({ method: 'GET', url: '/health', headers: { origin: ORIGIN } });
  assert.equal(get.headers['access-control-allow-origin'], ORIGIN);
  assert.match(String(get.headers['access-control-expose-headers']), /retry-after/);
  const other = await app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  await app.close();
});
