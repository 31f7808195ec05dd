import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseAllowlist } from './allowlist.ts';
import { DENY_REASON_HEADER } from './deny.ts';
import { startEgressProxy } from './egress-proxy.ts';
import type { EgressDecision } from './types.ts';
import { proxyRequest, rawExchange, startHttpServer, startTestProxy, type TestServer } from './test-fixtures.ts';

const REASON = DENY_REASON_HEADER.toLowerCase();

describe('egress proxy: plain HTTP', { timeout: 30_000 }, () => {
  let upstream: TestServer;
  let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  before(async () => {
    seen = [];
    upstream = await startHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(201, { 'X-Upstream': 'yes', 'Set-Cookie': ['a=1', 'b=2'], [DENY_REASON_HEADER]: 'forged' });
        res.end(`you sent ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
      });
    });
  });
  after(() => upstream.close());

  it('forwards an allowlisted request with status, headers and body intact', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const res = await proxyRequest(port, `http://127.0.0.1:${upstream.port}/hello?x=1`, { method: 'POST', body: 'payload', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.status, 201);
    assert.equal(res.body, 'you sent POST /hello?x=1 payload');
    assert.equal(res.headers['x-upstream'], 'yes');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.headers[REASON], undefined, 'an upstream cannot forge the deny header');
    assert.equal(decisions.length, 1);
    const decision = decisions[0] as EgressDecision;
    assert.equal(decision.sandboxId, 'sbx-test');
    assert.ok(!Number.isNaN(Date.parse(decision.time)));
    assert.deepEqual({ ...decision, time: '' }, {
      sandboxId: 'sbx-test', time: '', kind: 'http', host: '127.0.0.1', port: upstream.port, allowed: true,
      reason: 'allowlisted', method: 'POST', path: '/hello', address: '127.0.0.1',
    });
  });

  it('forwards a chunked request body', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const body = 'abc'.repeat(5000);
    const res = await proxyRequest(port, `http://127.0.0.1:${upstream.port}/chunked`, { method: 'PUT', body, headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(res.status, 201);
    assert.equal(res.body, `you sent PUT /chunked ${body}`);
  });

  it('removes hop-by-hop headers and whatever Connection names', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    seen.length = 0;
    const res = await rawExchange(port, [
      `GET http://127.0.0.1:${upstream.port}/h HTTP/1.1`, `Host: 127.0.0.1:${upstream.port}`,
      'Connection: close, X-Drop-Me', 'X-Drop-Me: 1', 'X-Keep-Me: 1', 'Proxy-Authorization: Basic eA==',
      'Proxy-Connection: keep-alive', 'Keep-Alive: timeout=5', 'TE: trailers', 'Trailer: X-T', 'Upgrade: websocket', '', '',
    ].join('\r\n'));
    assert.match(res, /^HTTP\/1\.1 201/);
    const headers = seen[0]?.headers ?? {};
    assert.equal(headers['x-keep-me'], '1');
    for (const name of ['x-drop-me', 'proxy-authorization', 'proxy-connection', 'keep-alive', 'te', 'trailer', 'upgrade']) {
      assert.equal(headers[name], undefined, name);
    }
    assert.equal(headers.host, `127.0.0.1:${upstream.port}`);
  });

  it('refuses a host that is not allowlisted without looking it up', async (t) => {
    let lookups = 0;
    const { port, decisions, close } = await startTestProxy(['example.com'], { resolve: async () => { lookups += 1; return []; } });
    t.after(close);
    const res = await proxyRequest(port, 'http://not-listed.example.net/secret?q=1');
    assert.equal(res.status, 403);
    assert.equal(res.headers[REASON], 'not_allowlisted');
    assert.equal(res.body, 'airlock: egress to not-listed.example.net:80 refused: not_allowlisted\n');
    assert.equal(lookups, 0);
    assert.equal(decisions[0]?.allowed, false);
    assert.equal(decisions[0]?.path, '/secret');
  });

  it('refuses localhost allowlisted by name: it resolves to loopback (real DNS, real classifier)', async (t) => {
    const decisions: EgressDecision[] = [];
    const proxy = await startEgressProxy({
      sandboxId: 'sbx-rebind', host: '127.0.0.1', port: 0, allow: parseAllowlist([`localhost:${upstream.port}`]), services: [],
      controllerListeners: () => [], onDecision: (d) => decisions.push(d),
    });
    t.after(() => proxy.close());
    const before = upstream.connections();
    const res = await proxyRequest(Number(new URL(proxy.url).port), `http://localhost:${upstream.port}/`);
    assert.equal(res.status, 403);
    assert.equal(res.headers[REASON], 'loopback_address');
    assert.equal(upstream.connections(), before);
    assert.equal(decisions[0]?.reason, 'loopback_address');
  });

  it('refuses a name that resolves to a private address (DNS rebinding)', async (t) => {
    const { port, decisions, close } = await startTestProxy(['rebind.test'], { resolve: async () => [{ address: '10.1.2.3', family: 4 }] });
    t.after(close);
    const res = await proxyRequest(port, 'http://rebind.test/');
    assert.equal(res.headers[REASON], 'private_address');
    assert.equal(decisions[0]?.address, '10.1.2.3');
  });

  it('judges a mixed-case, trailing-dot name as the canonical name', async (t) => {
    const asked: string[] = [];
    const { port, decisions, close } = await startTestProxy([`upstream.test:${upstream.port}`], {
      resolve: async (host) => { asked.push(host); return [{ address: '::ffff:127.0.0.1', family: 6 }]; },
    });
    t.after(close);
    const res = await rawExchange(port, `GET http://UpStream.TEST.:${upstream.port}/ HTTP/1.1\r\nHost: upstream.test:${upstream.port}\r\nConnection: close\r\n\r\n`);
    assert.match(res, new RegExp(`${REASON}: loopback_address`, 'i'), 'matched the rule, then refused on the (mapped) loopback address');
    assert.deepEqual(asked, ['upstream.test']);
    assert.equal(decisions[0]?.host, 'upstream.test');
    assert.equal(decisions[0]?.address, '127.0.0.1');
  });

  it('resolves a name once and connects to the pinned address', async (t) => {
    let lookups = 0;
    const { port, decisions, close } = await startTestProxy([`pinned.test:${upstream.port}`], {
      resolve: async () => { lookups += 1; return [{ address: '10.9.9.9', family: 4 }, { address: '127.0.0.1', family: 4 }]; },
    }, true);
    t.after(close);
    seen.length = 0;
    const res = await proxyRequest(port, `http://pinned.test:${upstream.port}/p`);
    assert.equal(res.status, 201);
    assert.equal(lookups, 1);
    assert.equal(seen[0]?.headers.host, `pinned.test:${upstream.port}`);
    assert.equal(decisions[0]?.address, '127.0.0.1', 'skipped the private answer, pinned the permitted one');
  });

  it('judges every IPv4/IPv6 spelling on the real address', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    for (const host of ['2130706433', '0177.0.0.1', '0x7f.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::ffff:7f00:1]']) {
      const res = await rawExchange(port, `GET http://${host}:${upstream.port}/ HTTP/1.1\r\nHost: ${host}:${upstream.port}\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 201/, host);
    }
    assert.ok(decisions.every((d) => d.host === '127.0.0.1' && d.allowed));
  });

  it('refuses loopback spellings when only a name is allowlisted', async (t) => {
    const { port, close } = await startTestProxy(['example.com']);
    t.after(close);
    const before = upstream.connections();
    for (const host of ['2130706433', '0x7f.0.0.1', '127.1', '[::ffff:127.0.0.1]', '[::1]', '0']) {
      const res = await rawExchange(port, `GET http://${host}:${upstream.port}/ HTTP/1.1\r\nHost: ${host}:${upstream.port}\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 403/, host);
      assert.match(res, /X-Airlock-Deny-Reason: (loopback_address|unspecified_address)/, host);
    }
    assert.equal(upstream.connections(), before);
  });

  it('never judges userinfo@host as the userinfo', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const before = upstream.connections();
    for (const target of [`http://127.0.0.1:${upstream.port}@evil.example/`, `http://user@127.0.0.1:${upstream.port}/`]) {
      const res = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nConnection: close\r\n\r\n`);
      assert.match(res, /X-Airlock-Deny-Reason: userinfo_in_url/, target);
    }
    assert.equal(upstream.connections(), before);
    assert.deepEqual(decisions.map((d) => d.reason), ['userinfo_in_url', 'userinfo_in_url']);
  });

  it('refuses a Host header that differs from the URL, a duplicate one, or none', async (t) => {
    const { port, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const target = `http://127.0.0.1:${upstream.port}/`;
    const requests = [
      `GET ${target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nHost: evil.example\r\nConnection: close\r\n\r\n`,
      `GET ${target} HTTP/1.0\r\n\r\n`,
    ];
    for (const request of requests) assert.match(await rawExchange(port, request), /X-Airlock-Deny-Reason: host_header_mismatch/, request);
    const ok = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: 0x7F.0.0.1:${upstream.port}\r\nConnection: close\r\n\r\n`);
    assert.match(ok, /^HTTP\/1\.1 201/, 'the same host in another spelling matches');
  });

  it('refuses origin-form requests and other schemes', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    assert.match(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'), /X-Airlock-Deny-Reason: not_a_proxy_request/);
    assert.match(await rawExchange(port, `GET https://127.0.0.1:${upstream.port}/ HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nConnection: close\r\n\r\n`), /X-Airlock-Deny-Reason: unsupported_scheme/);
    assert.deepEqual(decisions.map((d) => d.reason), ['not_a_proxy_request', 'unsupported_scheme']);
  });

  it('refuses cloud metadata without a lookup or connection, even when allowlisted by IP', async (t) => {
    let lookups = 0;
    const { port, decisions, close } = await startTestProxy(['169.254.169.254'], { resolve: async () => { lookups += 1; return []; } });
    t.after(close);
    for (const host of ['169.254.169.254', '[::ffff:a9fe:a9fe]', '2852039166', '[fd00:ec2::254]']) {
      const started = Date.now();
      const res = await rawExchange(port, `GET http://${host}/latest/meta-data/ HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      assert.match(res, /^HTTP\/1\.1 403/, host);
      assert.match(res, /X-Airlock-Deny-Reason: cloud_metadata/, host);
      assert.ok(Date.now() - started < 1000, 'answered without trying to connect');
    }
    assert.equal(lookups, 0);
    assert.ok(decisions.every((d) => d.reason === 'cloud_metadata' && !d.allowed));
  });

  it("refuses the host's own addresses, by IP and by name", async (t) => {
    const { port, decisions, close } = await startTestProxy(['own.test'], {
      hostAddresses: () => ['93.184.216.34'],
      resolve: async () => [{ address: '93.184.216.34', family: 4 }],
    });
    t.after(close);
    assert.equal((await proxyRequest(port, 'http://93.184.216.34/')).headers[REASON], 'host_address');
    assert.equal((await proxyRequest(port, 'http://own.test/')).headers[REASON], 'host_address');
    assert.deepEqual(decisions.map((d) => d.reason), ['host_address', 'host_address']);
  });

  it('reports a failed lookup as dns_failure', async (t) => {
    const { port, close } = await startTestProxy(['gone.test'], { resolve: async () => { throw new Error('ENOTFOUND'); } });
    t.after(close);
    assert.equal((await proxyRequest(port, 'http://gone.test/')).headers[REASON], 'dns_failure');
  });

  it('answers 502 upstream_unreachable, on record as allowed, when the upstream refuses', async (t) => {
    const closed = await startHttpServer(() => {});
    const deadPort = closed.port;
    await closed.close();
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${deadPort}`]);
    t.after(close);
    const res = await proxyRequest(port, `http://127.0.0.1:${deadPort}/`);
    assert.equal(res.status, 502);
    assert.equal(res.headers[REASON], 'upstream_unreachable');
    assert.deepEqual([decisions.length, decisions[0]?.allowed, decisions[0]?.reason], [1, true, 'upstream_unreachable']);
  });

  it('judges each request on a keep-alive connection on its own', async (t) => {
    const { port, decisions, close } = await startTestProxy([`127.0.0.1:${upstream.port}`]);
    t.after(close);
    const good = `GET http://127.0.0.1:${upstream.port}/one HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\n\r\n`;
    const bad = `GET http://evil.example/two HTTP/1.1\r\nHost: evil.example\r\n\r\n`;
    const last = `GET http://127.0.0.1:${upstream.port}/three HTTP/1.1\r\nHost: 127.0.0.1:${upstream.port}\r\nConnection: close\r\n\r\n`;
    const res = await rawExchange(port, good + bad + last);
    assert.equal(res.match(/^HTTP\/1\.1 /gm)?.length, 3);
    assert.match(res, /you sent GET \/one/);
    assert.match(res, /X-Airlock-Deny-Reason: not_allowlisted/);
    assert.match(res, /you sent GET \/three/);
    // Pipelined requests are judged concurrently, so decisions arrive in completion order.
    assert.deepEqual(decisions.map((d) => `${d.path} ${d.reason}`).sort(), ['/one allowlisted', '/three allowlisted', '/two not_allowlisted']);
  });

  it('applies setAllowlist from the next request on', async (t) => {
    const { proxy, port, close } = await startTestProxy([]);
    t.after(close);
    const target = `http://127.0.0.1:${upstream.port}/`;
    assert.equal((await proxyRequest(port, target)).headers[REASON], 'loopback_address');
    proxy.setAllowlist(parseAllowlist([`127.0.0.1:${upstream.port}`]));
    assert.equal((await proxyRequest(port, target)).status, 201);
    proxy.setAllowlist([]);
    assert.equal((await proxyRequest(port, target)).status, 403);
  });
});
