import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DENY_REASON_HEADER } from './deny.ts';
import { openConnect, proxyRequest, startHttpServer, startTestProxy, type TestServer } from './test-fixtures.ts';
import type { BrokeredCredential } from './types.ts';

const REASON = DENY_REASON_HEADER.toLowerCase();
const REAL = 'sk-real-0123456789';
const PH = 'airlock-brokered-00112233445566778899aabbccddeeff';

describe('egress proxy: brokered credentials over plain HTTP', { timeout: 30_000 }, () => {
  let upstream: TestServer;
  let seen: { host: string; url: string; headers: IncomingHttpHeaders }[];
  // plainHttp: these cases are about the swap itself, over plain HTTP to an outside host (see the cleartext case below).
  const credential: BrokeredCredential = { name: 'api_key', placeholder: PH, hosts: ['api.test'], header: 'Authorization', format: 'Bearer {value}', plainHttp: true, value: () => Buffer.from(REAL) };
  // Both names reach the same local server (loopback counts as public in this proxy): only the name differs.
  const start = () => startTestProxy([`api.test:${upstream.port}`, `other.test:${upstream.port}`], { brokered: [credential], resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
  const url = (host: string, path = '/v1') => `http://${host}:${upstream.port}${path}`;
  before(async () => {
    seen = [];
    upstream = await startHttpServer((req, res) => {
      seen.push({ host: req.headers.host ?? '', url: req.url ?? '', headers: req.headers });
      res.end('ok');
    });
  });
  after(() => upstream.close());

  it('swaps the value into the bound header, formatted, and into any other header bare', async (t) => {
    const { port, decisions, close } = await start();
    t.after(close);
    const before = seen.length;
    const res = await proxyRequest(port, url('api.test'), { headers: { authorization: PH, 'x-extra': `k=${PH};` } });
    assert.equal(res.status, 200);
    assert.equal(seen.length, before + 1);
    assert.equal(seen.at(-1)?.headers.authorization, `Bearer ${REAL}`);
    assert.equal(seen.at(-1)?.headers['x-extra'], `k=${REAL};`);
    assert.deepEqual([decisions[0]?.allowed, decisions[0]?.reason, decisions[0]?.brokered], [true, 'allowlisted', ['api_key']]);
  });

  it('asks the bound upstream for an identity-encoded answer (a compressed one could not be redacted)', async (t) => {
    const { port, close } = await start();
    t.after(close);
    await proxyRequest(port, url('api.test'), { headers: { authorization: PH, 'accept-encoding': 'gzip, br' } });
    assert.equal(seen.at(-1)?.headers['accept-encoding'], undefined);
  });

  it('redacts answers with the configured redactor, re-framed as chunked', async (t) => {
    const echo = await startHttpServer((req, res) => {
      const body = `you sent ${req.headers.authorization ?? ''}`;
      res.writeHead(200, { 'Content-Length': Buffer.byteLength(body), 'X-Echo': req.headers.authorization ?? '' });
      res.end(body);
    });
    t.after(() => echo.close());
    // A redactor that replaces the value (the controller passes src/secrets' Redactor, tested there across chunks and encodings).
    const responseRedactor = {
      text: (text: string) => text.split(REAL).join('[R]'),
      stream: () => {
        const parts: Buffer[] = [];
        return { push: (c: Buffer) => (parts.push(c), Buffer.alloc(0)), end: () => Buffer.from(Buffer.concat(parts).toString().split(REAL).join('[R]')) };
      },
    };
    const { port, close } = await startTestProxy([`api.test:${echo.port}`], { brokered: [credential], responseRedactor, resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
    t.after(close);
    const res = await proxyRequest(port, `http://api.test:${echo.port}/`, { headers: { authorization: PH } });
    assert.deepEqual([res.status, res.body, res.headers['x-echo'], res.headers['content-length'], res.headers['transfer-encoding']], [200, 'you sent Bearer [R]', 'Bearer [R]', undefined, 'chunked']);
  });

  it('forwards a bound-host request without the placeholder untouched', async (t) => {
    const { port, decisions, close } = await start();
    t.after(close);
    const res = await proxyRequest(port, url('api.test'), { headers: { authorization: 'Bearer mine' } });
    assert.equal(res.status, 200);
    assert.equal(seen.at(-1)?.headers.authorization, 'Bearer mine');
    assert.equal(decisions[0]?.brokered, undefined);
  });

  it('refuses a tunnel whose name carries the placeholder, before any lookup', async (t) => {
    let lookups = 0;
    const { port, decisions, close } = await startTestProxy([`*.other.test`], { brokered: [credential], resolve: async () => { lookups += 1; return [{ address: '127.0.0.1', family: 4 }]; } }, true);
    t.after(close);
    const { socket, head } = await openConnect(port, `${PH}.other.test:443`);
    socket.destroy();
    assert.match(head, /^HTTP\/1\.1 403 /);
    assert.match(head, /X-Airlock-Deny-Reason: brokered_secret_unbound/);
    assert.equal(lookups, 0);
    assert.deepEqual([decisions[0]?.kind, decisions[0]?.reason, decisions[0]?.brokered], ['connect', 'brokered_secret_unbound', ['api_key']]);
  });

  it('refuses to place the value over plain HTTP to an outside host unless its binding allows it', async (t) => {
    const strict: BrokeredCredential = { ...credential, plainHttp: false };
    const { port, decisions, close } = await startTestProxy([`api.test:${upstream.port}`], { brokered: [strict], resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
    t.after(close);
    const before = seen.length;
    const res = await proxyRequest(port, url('api.test'), { headers: { authorization: PH } });
    assert.equal(res.status, 403);
    assert.equal(res.headers[REASON], 'brokered_secret_cleartext');
    assert.equal(seen.length, before, 'nothing reached the upstream');
    assert.deepEqual([decisions[0]?.allowed, decisions[0]?.reason, decisions[0]?.brokered], [false, 'brokered_secret_cleartext', ['api_key']]);
    // The same request without the placeholder is an ordinary allowed one.
    assert.equal((await proxyRequest(port, url('api.test'), { headers: { authorization: 'Bearer mine' } })).status, 200);
  });

  const refusals: [string, () => string, Record<string, string>][] = [
    ['a header to an allowlisted host it is not bound to', () => url('other.test'), { authorization: `Bearer ${PH}` }],
    ['any header to an unbound host', () => url('other.test'), { cookie: `s=${PH}` }],
    ['the URL of an unbound host', () => url('other.test', `/x?k=${PH}`), {}],
    ['the URL of an unbound host, percent-encoded', () => url('other.test', `/x?k=%61irlock-brokered-${PH.slice('airlock-brokered-'.length)}`), {}],
    ['the URL of the bound host (it would land in access logs)', () => url('api.test', `/x?k=${PH}`), {}],
    ['a host that is not even allowlisted', () => url('elsewhere.test'), { authorization: PH }],
  ];
  for (const [what, target, headers] of refusals) {
    it(`refuses the placeholder in ${what}, before connecting`, async (t) => {
      const { port, decisions, close } = await start();
      t.after(close);
      const before = seen.length;
      const res = await proxyRequest(port, target(), { headers });
      assert.equal(res.status, 403);
      assert.equal(res.headers[REASON], 'brokered_secret_unbound');
      assert.equal(seen.length, before, 'nothing reached an upstream');
      assert.deepEqual([decisions[0]?.allowed, decisions[0]?.reason, decisions[0]?.brokered], [false, 'brokered_secret_unbound', ['api_key']]);
      assert.ok(!JSON.stringify(decisions).includes(REAL));
    });
  }
});
