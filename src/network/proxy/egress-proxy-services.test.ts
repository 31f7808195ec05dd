import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DENY_REASON_HEADER } from './deny.ts';
import {
  makeCertificate, openConnect, proxyRequest, rawExchange, startHttpServer, startHttpsServer, startTestProxy, type TestServer,
} from './test-fixtures.ts';
import type { InternalService } from './types.ts';

const REASON = DENY_REASON_HEADER.toLowerCase();

describe('egress proxy: internal services', { timeout: 30_000 }, () => {
  let service: TestServer;
  let other: TestServer;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  let services: InternalService[];
  before(async () => {
    seen = [];
    service = await startHttpServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.end(`service got ${req.method} ${req.url}`);
    });
    other = await startHttpServer((_req, res) => res.end('other'));
    services = [{ name: 'metrics', url: new URL(`http://127.0.0.1:${service.port}/base/`), methods: ['get', 'HEAD'], pathPrefixes: ['/v1', '/public/'] }];
  });
  after(async () => {
    await service.close();
    await other.close();
  });

  it('forwards an allowed method and path by service name, joining the base path', async (t) => {
    const { port, decisions, close } = await startTestProxy([], { services });
    t.after(close);
    const res = await proxyRequest(port, 'http://metrics.airlock.internal/v1/x?y=1');
    assert.equal(res.status, 200);
    assert.equal(res.body, 'service got GET /base/v1/x?y=1');
    assert.equal(seen.at(-1)?.headers.host, `127.0.0.1:${service.port}`);
    assert.deepEqual([decisions[0]?.kind, decisions[0]?.allowed, decisions[0]?.reason, decisions[0]?.host], ['service', true, 'service', 'metrics.airlock.internal']);
  });

  it("forwards by the service's own address, though it is loopback", async (t) => {
    const { port, decisions, close } = await startTestProxy([], { services });
    t.after(close);
    const res = await proxyRequest(port, `http://127.0.0.1:${service.port}/v1`);
    assert.equal(res.body, 'service got GET /base/v1');
    assert.equal(decisions[0]?.reason, 'service');
  });

  const refusals: [string, string, string][] = [
    ['POST', '/v1/x', 'service_method_not_allowed'],
    ['DELETE', '/v1/x', 'service_method_not_allowed'],
    ['GET', '/v2/x', 'service_path_not_allowed'],
    ['GET', '/v1x', 'service_path_not_allowed'],
    ['GET', '/', 'service_path_not_allowed'],
    ['GET', '/public', 'service_path_not_allowed'],
    ['GET', '/v1/../admin', 'service_path_not_allowed'],
    ['GET', '/v1/%2e%2e/admin', 'service_path_encoded'],
    ['GET', '/v1/%2E%2E/admin', 'service_path_encoded'],
    ['GET', '/v1%2fadmin', 'service_path_encoded'],
    ['GET', '/v1/..%5Cadmin', 'service_path_encoded'],
    ['GET', '/v1\\..\\admin', 'service_path_encoded'],
  ];
  for (const [method, path, reason] of refusals) {
    it(`refuses ${method} ${path} as ${reason}`, async (t) => {
      const { port, decisions, close } = await startTestProxy([], { services });
      t.after(close);
      const count = seen.length;
      const res = await rawExchange(port, `${method} http://metrics.airlock.internal${path} HTTP/1.1\r\nHost: metrics.airlock.internal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 403/);
      assert.match(res, new RegExp(`X-Airlock-Deny-Reason: ${reason}`));
      assert.equal(seen.length, count, 'the service saw nothing');
      assert.deepEqual([decisions[0]?.kind, decisions[0]?.allowed], ['service', false]);
    });
  }

  it('reaches nothing else at the service address, and no unknown service name', async (t) => {
    const { port, close } = await startTestProxy([], { services });
    t.after(close);
    assert.equal((await proxyRequest(port, `http://127.0.0.1:${other.port}/v1`)).headers[REASON], 'loopback_address');
    assert.equal((await proxyRequest(port, 'http://other.airlock.internal/v1')).headers[REASON], 'unknown_service');
    assert.equal((await proxyRequest(port, 'http://metrics.airlock.internal:8080/v1')).headers[REASON], 'unknown_service');
    assert.equal(other.connections(), 0);
  });

  it('refuses CONNECT to a service, by name or address', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${service.port}`], { services });
    t.after(close);
    for (const authority of ['metrics.airlock.internal:80', `127.0.0.1:${service.port}`]) {
      const { head } = await openConnect(port, authority);
      assert.match(head, /X-Airlock-Deny-Reason: service_requires_http/, authority);
    }
    assert.deepEqual(decisions.map((d) => d.reason), ['service_requires_http', 'service_requires_http']);
  });

  it('forwards to an https service, verifying its certificate against the configured CA', async (t) => {
    const credentials = makeCertificate('IP:127.0.0.1');
    const secure = await startHttpsServer(credentials, (req, res) => res.end(`secure ${req.url}`));
    t.after(() => secure.close());
    const url = new URL(`https://127.0.0.1:${secure.port}/`);
    const trusted: InternalService = { name: 'vault', url, methods: ['GET'], pathPrefixes: ['/'], ca: credentials.cert };
    const untrusted: InternalService = { name: 'rogue', url, methods: ['GET'], pathPrefixes: ['/'] };
    const { port, decisions, close } = await startTestProxy([], { services: [trusted, untrusted] });
    t.after(close);
    const ok = await proxyRequest(port, 'http://vault.airlock.internal/k?v=1');
    assert.deepEqual([ok.status, ok.body], [200, 'secure /k?v=1']);
    const unverified = await proxyRequest(port, 'http://rogue.airlock.internal/k');
    assert.deepEqual([unverified.status, unverified.headers[REASON]], [502, 'upstream_certificate_invalid']);
    assert.deepEqual(decisions.map((d) => d.reason), ['service', 'upstream_certificate_invalid']);
  });
});
