import assert from 'node:assert/strict';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createBrokerCa, type BrokerCa } from './broker-ca.ts';
import { DENY_REASON_HEADER } from './deny.ts';
import { listenCounted, openConnect, proxyRequest, startHttpsServer, startTestProxy, waitFor, type TestServer } from './test-fixtures.ts';
import type { BrokeredCredential, EgressProxyOptions } from './types.ts';

const REASON = DENY_REASON_HEADER.toLowerCase();
const REAL = 'sk-real-0123456789';
const PH = 'airlock-brokered-00112233445566778899aabbccddeeff';
const OTHER_PH = 'airlock-brokered-ffeeddccbbaa99887766554433221100';

interface Seen {
  host: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  complete: boolean;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The issuer CN of the certificate the client was shown. */
  issuer: string;
}

/** An HTTPS request through a CONNECT tunnel of the proxy, trusting only `ca`. */
async function viaTunnel(proxyPort: number, host: string, port: number, ca: string, init: { path?: string; method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Answer> {
  const { socket, head } = await openConnect(proxyPort, `${host}:${port}`);
  if (!head.startsWith('HTTP/1.1 200')) {
    socket.destroy();
    throw new Error(`tunnel refused: ${head}`);
  }
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket, servername: host, ca });
    const req = https.request({ host, port, path: init.path ?? '/v1', method: init.method ?? 'GET', headers: { host: port === 443 ? host : `${host}:${port}`, ...init.headers }, createConnection: () => secure }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), issuer: String(secure.getPeerCertificate().issuer?.CN ?? '') });
        secure.destroy();
      });
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('egress proxy: HTTPS interception for brokered credentials', { timeout: 60_000 }, () => {
  let upstreamCa: BrokerCa;
  let upstream: TestServer;
  let wrongName: TestServer;
  const seen: Seen[] = [];
  const defaults = tls.getCACertificates('default');
  const credential: BrokeredCredential = { name: 'api_key', placeholder: PH, hosts: ['api.test'], header: 'Authorization', format: 'Bearer {value}', value: () => Buffer.from(REAL) };
  const elsewhere: BrokeredCredential = { name: 'other_key', placeholder: OTHER_PH, hosts: ['other.test'], header: 'Authorization', format: 'Bearer {value}', value: () => Buffer.from('sk-other') };
  const redactor = {
    text: (text: string) => text.split(REAL).join('[R]'),
    stream: () => {
      const parts: Buffer[] = [];
      return { push: (c: Buffer) => (parts.push(c), Buffer.alloc(0)), end: () => Buffer.from(Buffer.concat(parts).toString().split(REAL).join('[R]')) };
    },
  };
  const start = async (extra: Partial<EgressProxyOptions> = {}, withCa = true) => {
    const brokerCa = await createBrokerCa('sbx-test');
    const proxy = await startTestProxy([`api.test:${upstream.port}`, `other.test:${upstream.port}`, `wrong.test:${wrongName.port}`], {
      brokered: [credential], ...(withCa ? { brokerCa } : {}), responseRedactor: redactor, resolve: async () => [{ address: '127.0.0.1', family: 4 }], ...extra,
    }, true);
    return { ...proxy, brokerCa };
  };

  before(async () => {
    // The upstreams' own test CA, trusted the way the system's store is (never by a flag of the proxy).
    upstreamCa = await createBrokerCa('upstream-test-ca');
    tls.setDefaultCACertificates([...defaults, upstreamCa.certificatePem]);
    const handler: http.RequestListener = (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('close', () => {
        seen.push({ host: req.headers.host ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), complete: req.complete });
        if (!res.headersSent && !res.destroyed) {
          res.setHeader('X-Echo', `got ${req.headers.authorization ?? ''}`);
          res.end(`ok ${req.headers.authorization ?? ''}`);
        }
      });
    };
    // One server for api.test and other.test (SNI picks the leaf); another whose only name is wrong.test.
    const apiLeaf = await upstreamCa.leafFor('api.test');
    const otherLeaf = await upstreamCa.leafFor('other.test');
    const server = https.createServer({ ...apiLeaf, SNICallback: (name, cb) => cb(null, tls.createSecureContext(name === 'other.test' ? otherLeaf : apiLeaf)) }, handler);
    upstream = await listenCounted(server);
    wrongName = await startHttpsServer(await upstreamCa.leafFor('wrong-name.test'), handler);
  });
  after(async () => {
    tls.setDefaultCACertificates(defaults);
    await upstream.close();
    await wrongName.close();
  });

  it('terminates TLS for the bound host with a leaf of the broker CA, swaps the key in and redacts the echo', async (t) => {
    const { port, decisions, close, brokerCa } = await start();
    t.after(close);
    const before = seen.length;
    const answer = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { headers: { authorization: `Bearer ${PH}`, 'x-trace': `id=${PH}` } });
    assert.equal(answer.status, 200);
    assert.match(answer.issuer, /^airlock broker CA sbx-test/);
    assert.equal(seen.length, before + 1);
    assert.equal(seen.at(-1)?.headers.authorization, `Bearer ${REAL}`);
    assert.equal(seen.at(-1)?.headers['x-trace'], `id=${REAL}`);
    assert.equal(seen.at(-1)?.headers.host, `api.test:${upstream.port}`);
    assert.deepEqual([answer.body, answer.headers['x-echo']], ['ok Bearer [R]', 'got Bearer [R]']);
    assert.deepEqual(decisions.map((d) => [d.kind, d.allowed, d.reason, d.brokered]), [['connect', true, 'allowlisted', undefined], ['http', true, 'allowlisted', ['api_key']]]);
    assert.ok(!JSON.stringify(decisions).includes(REAL));
  });

  it('judges each request of a kept-alive intercepted tunnel on its own', async (t) => {
    const { port, decisions, close, brokerCa } = await start({ brokered: [credential, elsewhere] });
    t.after(close);
    const before = seen.length;
    const ok = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { headers: { authorization: PH } });
    assert.equal(ok.status, 200);
    const inUrl = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { path: `/x?k=${PH}` });
    const boundElsewhere = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { headers: { authorization: `Bearer ${OTHER_PH}` } });
    const otherHost = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { headers: { host: 'other.test' } });
    assert.deepEqual([inUrl.status, inUrl.headers[REASON]], [403, 'brokered_secret_unbound']);
    assert.deepEqual([boundElsewhere.status, boundElsewhere.headers[REASON]], [403, 'brokered_secret_unbound']);
    assert.deepEqual([otherHost.status, otherHost.headers[REASON]], [403, 'host_header_mismatch']);
    assert.equal(seen.length, before + 1, 'only the allowed request reached the upstream');
    assert.deepEqual(decisions.filter((d) => d.kind === 'http').map((d) => [d.allowed, d.reason, d.brokered]), [
      [true, 'allowlisted', ['api_key']], [false, 'brokered_secret_unbound', ['api_key']], [false, 'brokered_secret_unbound', ['other_key']], [false, 'host_header_mismatch', undefined],
    ]);
  });

  it('mints one leaf per host for the sandbox\'s life (the same certificate on every tunnel)', async (t) => {
    const { port, close, brokerCa } = await start();
    t.after(close);
    const fingerprints: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const { socket } = await openConnect(port, `api.test:${upstream.port}`);
      const secure = tls.connect({ socket, servername: 'api.test', ca: brokerCa.certificatePem });
      await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
      fingerprints.push(secure.getPeerCertificate().fingerprint256);
      secure.destroy();
    }
    assert.equal(fingerprints[0], fingerprints[1]);
  });

  it('leaves an unbound host a blind tunnel: the client sees the upstream\'s own certificate', async (t) => {
    const { port, decisions, close, brokerCa } = await start();
    t.after(close);
    const answer = await viaTunnel(port, 'other.test', upstream.port, upstreamCa.certificatePem, { headers: { authorization: 'Bearer mine' } });
    assert.equal(answer.status, 200);
    assert.match(answer.issuer, /^airlock broker CA upstream-test-ca/);
    assert.equal(seen.at(-1)?.headers.authorization, 'Bearer mine');
    assert.deepEqual(decisions.map((d) => [d.kind, d.allowed]), [['connect', true]], 'one tunnel decision, no request inside was read');
    // A client that trusts only the broker CA can't complete TLS to it: nothing was minted for that host.
    await assert.rejects(viaTunnel(port, 'other.test', upstream.port, brokerCa.certificatePem), /certificate/);
  });

  it('refuses an upstream whose certificate does not verify for the host (502 upstream_certificate_invalid)', async (t) => {
    const { port, decisions, close, brokerCa } = await start({ brokered: [{ ...credential, hosts: ['wrong.test'] }] });
    t.after(close);
    const before = seen.length;
    const answer = await viaTunnel(port, 'wrong.test', wrongName.port, brokerCa.certificatePem, { headers: { authorization: PH } });
    assert.deepEqual([answer.status, answer.headers[REASON]], [502, 'upstream_certificate_invalid']);
    assert.match(answer.body, /refused: upstream_certificate_invalid/);
    assert.equal(seen.length, before, 'no request was sent to it');
    assert.deepEqual(decisions.at(-1)?.reason, 'upstream_certificate_invalid');
  });

  it('records a client that does not trust the broker CA as tls_intercept_failed', async (t) => {
    const { port, decisions, close } = await start();
    t.after(close);
    await assert.rejects(viaTunnel(port, 'api.test', upstream.port, upstreamCa.certificatePem), /certificate/);
    await waitFor(() => decisions.length > 0);
    assert.deepEqual([decisions[0]?.kind, decisions[0]?.allowed, decisions[0]?.reason], ['connect', false, 'tls_intercept_failed']);
  });

  it('without a broker CA, HTTPS to a bound host stays a blind tunnel', async (t) => {
    const { port, decisions, close } = await start({}, false);
    t.after(close);
    const answer = await viaTunnel(port, 'api.test', upstream.port, upstreamCa.certificatePem, { headers: { authorization: 'Bearer mine' } });
    assert.equal(answer.status, 200);
    assert.match(answer.issuer, /upstream-test-ca/);
    assert.equal(decisions.length, 1);
  });

  describe('request bodies', () => {
    it('refuses a placeholder in a small body to an unbound host before connecting (plain HTTP)', async (t) => {
      const plain = await startRecordingServer();
      t.after(() => plain.close());
      const { port, decisions, close } = await startTestProxy([`other.test:${plain.port}`], { brokered: [credential], resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
      t.after(close);
      const res = await proxyRequest(port, `http://other.test:${plain.port}/up`, { method: 'POST', body: `{"key":"${PH}"}` });
      assert.deepEqual([res.status, res.headers[REASON]], [403, 'brokered_secret_unbound']);
      assert.equal(plain.connections(), 0, 'nothing reached the upstream');
      assert.deepEqual([decisions[0]?.reason, decisions[0]?.brokered], ['brokered_secret_unbound', ['api_key']]);
    });

    it('refuses a placeholder in a body inside an intercepted tunnel when it is bound elsewhere', async (t) => {
      const { port, close, brokerCa } = await start({ brokered: [credential, elsewhere] });
      t.after(close);
      const before = seen.length;
      const answer = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { method: 'POST', body: `k=${OTHER_PH}` });
      assert.deepEqual([answer.status, answer.headers[REASON]], [403, 'brokered_secret_unbound']);
      assert.equal(seen.length, before);
    });

    it('forwards a body with the placeholder to its bound host unchanged, and a long clean body intact', async (t) => {
      const { port, close, brokerCa } = await start();
      t.after(close);
      const small = await viaTunnel(port, 'api.test', upstream.port, brokerCa.certificatePem, { method: 'POST', body: `k=${PH}` });
      assert.equal(small.status, 200);
      assert.equal(seen.at(-1)?.body, `k=${PH}`);
      const long = 'x'.repeat(300 * 1024);
      const plain = await startRecordingServer(seen);
      t.after(() => plain.close());
      const proxy = await startTestProxy([`other.test:${plain.port}`], { brokered: [credential], resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
      t.after(proxy.close);
      const res = await proxyRequest(proxy.port, `http://other.test:${plain.port}/up`, { method: 'POST', body: long });
      assert.equal(res.status, 200);
      assert.equal(seen.at(-1)?.body.length, long.length);
      assert.equal(seen.at(-1)?.body, long);
    });

    it('cuts off a long body to an unbound host once the placeholder turns up: the upstream never gets it', async (t) => {
      const received: Seen[] = [];
      const plain = await startRecordingServer(received);
      t.after(() => plain.close());
      const { port, decisions, close } = await startTestProxy([`other.test:${plain.port}`], { brokered: [credential], resolve: async () => [{ address: '127.0.0.1', family: 4 }] }, true);
      t.after(close);
      // 100 KiB (past the part read before connecting) reach the upstream first; then the placeholder follows.
      const first = 'y'.repeat(100 * 1024);
      const rest = `${'y'.repeat(10)}${PH}${'z'.repeat(1024)}`;
      const answer = new Promise<{ status: number; reason: unknown }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: `http://other.test:${plain.port}/up`, headers: { host: `other.test:${plain.port}`, 'content-length': String(first.length + rest.length) } }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, reason: res.headers[REASON] });
        });
        req.on('error', reject);
        req.write(first);
        void waitFor(() => plain.connections() > 0).then(() => setTimeout(() => req.end(rest), 100));
      });
      assert.deepEqual(await answer, { status: 403, reason: 'brokered_secret_unbound' });
      await waitFor(() => received.length > 0);
      assert.equal(received[0]?.complete, false, 'the upstream saw a truncated request');
      assert.ok((received[0]?.body.length ?? 0) >= 64 * 1024, 'the upstream did get the first part');
      assert.ok(!(received[0]?.body ?? '').includes('airlock-'), 'no part of the placeholder left the proxy');
      assert.deepEqual(decisions.find((d) => d.reason === 'brokered_secret_unbound')?.brokered, ['api_key']);
    });
  });
});

/** A plain HTTP upstream that records requests (body and completeness) into `into`. */
async function startRecordingServer(into: Seen[] = []): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => {
      into.push({ host: req.headers.host ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), complete: req.complete });
      if (!res.headersSent && !res.destroyed) res.end('ok');
    });
  });
  return listenCounted(server);
}
