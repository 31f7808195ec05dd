/**
 * DNS rebinding: the API answers only requests whose `Host` is on service.allowedHosts (default
 * the loopback names, any port); every other `Host`, or none, gets 421 host_not_allowed before
 * routing, on every path (/health, 404s and CORS preflights included), and nothing runs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { hostAllowed, parseAllowedHosts, parseHost } from '../../src/config/allowed-hosts.ts';
import { configSchema } from '../../src/config/config.ts';
import { assertError, json, makeApp } from './helpers.ts';

const DEFAULTS = parseAllowedHosts(['localhost', '127.0.0.1', '[::1]']);

/** Names a rebinding page (or a confused client) sends. */
const REFUSED = [
  'attacker.example',
  'attacker.example:8002',
  'localhost.attacker.example',
  'localhost.attacker.example:8002',
  '127.0.0.1.nip.io',
  '127.0.0.1.nip.io:8002',
  'localhost.',
  'localhost.:8002',
  '127.0.0.1.',
  '0x7f000001',
  '127.1',
  '[0:0:0:0:0:0:0:1]',
  '[::ffff:127.0.0.1]',
  '::1',
  '[::1',
  'localhost:99999',
  'localhost:',
  'user@localhost',
  'localhost/evil',
  ' localhost',
  'localhost, attacker.example',
  '',
];

/** Loopback names, as clients write them. */
const ACCEPTED = ['localhost', 'localhost:8002', 'LOCALHOST', 'LocalHost:80', '127.0.0.1', '127.0.0.1:8002', '[::1]', '[::1]:8002'];

describe('Host allowlist matching', () => {
  it('accepts the loopback names with or without a port, in any case', () => {
    for (const host of ACCEPTED) assert.ok(hostAllowed(host, DEFAULTS), host);
  });

  it('refuses rebinding names, spelling variants, malformed values and no Host at all', () => {
    for (const host of REFUSED) assert.equal(hostAllowed(host, DEFAULTS), false, host);
    assert.equal(hostAllowed(undefined, DEFAULTS), false);
  });

  it('an entry with a port matches only that port', () => {
    const allowed = parseAllowedHosts(['airlock.internal:8443']);
    assert.ok(hostAllowed('airlock.internal:8443', allowed));
    assert.ok(hostAllowed('AIRLOCK.internal:8443', allowed));
    assert.equal(hostAllowed('airlock.internal', allowed), false);
    assert.equal(hostAllowed('airlock.internal:8002', allowed), false);
  });

  it('the configuration refuses malformed entries and defaults to the loopback names', () => {
    assert.deepEqual(configSchema.parse({}).service.allowedHosts, ['localhost', '127.0.0.1', '[::1]']);
    assert.deepEqual(configSchema.parse({ service: { allowedHosts: ['airlock.example.com', '10.0.0.5:8002', '[fd00::1]'] } }).service.allowedHosts, [
      'airlock.example.com', '10.0.0.5:8002', '[fd00::1]',
    ]);
    for (const bad of ['http://airlock.example.com', 'airlock.example.com/', 'localhost.', '::1', '*.example.com', 'a b']) {
      assert.throws(() => configSchema.parse({ service: { allowedHosts: [bad] } }), /allowedHosts/, bad);
      assert.equal(parseHost(bad), undefined, bad);
    }
  });
});

describe('Host check on every request', () => {
  it('refuses foreign names with 421 host_not_allowed on /health, API routes, 404s and preflights', async () => {
    const { app, service } = await makeApp({ corsOrigins: ['https://app.example.com'] });
    for (const host of REFUSED.filter((h) => h !== '' && !/[\s,]/.test(h))) {
      const refused = assertError(await app.inject({ method: 'GET', url: '/health', headers: { host } }), 421, 'host_not_allowed');
      assert.match(refused.message, /service\.allowedHosts/);
      assertError(await app.inject({ method: 'GET', url: '/api/v1/sandboxes', headers: { host } }), 421, 'host_not_allowed');
      assertError(await app.inject({ method: 'GET', url: '/no/such/route', headers: { host } }), 421, 'host_not_allowed');
      assertError(await app.inject({ ...json('POST', '/api/v1/sandbox/execute', { agent_id: 'a', code: '1' }), headers: { host, 'content-type': 'application/json' } }), 421, 'host_not_allowed');
      assertError(await app.inject({ ...json('POST', '/api/v1/sandboxes', {}), headers: { host, 'content-type': 'application/json' } }), 421, 'host_not_allowed');
      const preflight = await app.inject({
        method: 'OPTIONS', url: '/api/v1/sandboxes',
        headers: { host, origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
      });
      assertError(preflight, 421, 'host_not_allowed');
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    }
    // Nothing ran for any of them.
    assert.equal(service.executed.length, 0);
    assert.equal(service.created.length, 0);
    await app.close();
  });

  it('answers the loopback names, in any case and with any port', async () => {
    const { app } = await makeApp();
    for (const host of ACCEPTED) assert.equal((await app.inject({ method: 'GET', url: '/health', headers: { host } })).statusCode, 200, host);
    await app.close();
  });

  it('a configured list replaces the default', async () => {
    const { app } = await makeApp({ allowedHosts: ['airlock.internal'] });
    assert.equal((await app.inject({ method: 'GET', url: '/health', headers: { host: 'airlock.internal:8443' } })).statusCode, 200);
    assertError(await app.inject({ method: 'GET', url: '/health', headers: { host: 'localhost' } }), 421, 'host_not_allowed');
    await app.close();
  });

  it('over TCP: no Host (HTTP/1.0) and a foreign Host are refused; the server keeps serving', async () => {
    const { app } = await makeApp();
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const raw = (request: string) =>
        new Promise<string>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.write(request));
          let data = '';
          socket.on('data', (c) => (data += c));
          socket.on('close', () => resolve(data));
        });
      const noHost = await raw('GET /health HTTP/1.0\r\n\r\n');
      assert.match(noHost, /^HTTP\/1\.[01] 421/);
      assert.match(noHost, /"code":"host_not_allowed"/);
      assert.match(noHost, /no Host header/);
      // HTTP/1.1 requires Host: Node's parser refuses its absence before any hook, still a 4xx.
      assert.match(await raw('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400/);
      const foreign = await raw('GET /health HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n');
      assert.match(foreign, /^HTTP\/1\.1 421/);
      assert.match(await raw(`GET /health HTTP/1.1\r\nHost: [::1]:${port}\r\nConnection: close\r\n\r\n`), /^HTTP\/1\.1 200/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200);
      assert.equal((await fetch(`http://localhost:${port}/health`)).status, 200);
    } finally {
      await app.close();
    }
  });

  it('a unix-socket listener is not checked: no browser can reach it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-host-check-'));
    const { app } = await makeApp();
    try {
      await app.listen({ path: join(dir, 'api.sock') });
      const status = await new Promise<number | undefined>((resolve, reject) => {
        get({ socketPath: join(dir, 'api.sock'), path: '/health', headers: { host: 'attacker.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        }).on('error', reject);
      });
      assert.equal(status, 200);
    } finally {
      await app.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
