/**
 * Brokered credentials over HTTPS, on both runtimes, with real sandboxes on a restricted network
 * and real HTTPS upstreams (Python servers at "public" addresses in a network namespace of this
 * test, routed over a veth: nothing outside the host is contacted) with certificates from a test
 * CA made here, which the controller process trusts like a system root.
 *
 * The sandbox's tunnel to the bound upstream is intercepted: it is shown a leaf of its own broker
 * CA (trusted through the read-only bundle and the variables), the upstream gets the real key, the
 * echoed key is redacted. A tunnel to the unbound upstream is not decrypted (the sandbox sees the
 * upstream's own certificate). A bound upstream whose certificate does not verify is refused. No
 * private key of the CA exists inside the sandbox, in files or in the environment.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { SandboxService } from '../../src/sandbox/service.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { EnvSecretProvider, SecretRegistry } from '../../src/secrets/index.ts';
import { createBrokerCa, type BrokerCa, type EgressDecision } from '../../src/network/proxy/index.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';
import { startHttpsUpstreams, type HttpsUpstreams } from './lib/https-upstream.ts';

const base = isolatedConfig();
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`brokered https test cleanup: ${problems.join('; ')}\n`);
});

const REAL = 'sk-test-brokered-https-0123456789abcdef';
// Addresses no one routes (11/8 is not announced), unique to this process, routed to the test's veth only.
const net = `11.${(process.pid >> 8) & 255}.${process.pid & 255}`;
const BOUND = `${net}.1`;
const UNBOUND = `${net}.2`;
const BAD_CERT = `${net}.3`;

/**
 * Python, in the sandbox: through the proxy's CONNECT (from the environment), calls each upstream
 * with the system trust (SSL_CERT_FILE) or with the upstream test CA only, and reports status,
 * body, deny reason and the issuer of the certificate it was shown; then looks for key material.
 */
const CLIENT = `
import hashlib, http.client, json, os, re, ssl, sys, urllib.parse, urllib.request
up_ca, port, bound, unbound, bad = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
proxy = urllib.parse.urlsplit(os.environ['https_proxy'])
ph = open('/run/secrets/api_key').read()
def call(host, ctx, headers=None, method='GET', body=None):
    c = http.client.HTTPSConnection(proxy.hostname, proxy.port, context=ctx, timeout=20)
    c.set_tunnel(host, port)
    try:
        c.request(method, '/v1', body=body, headers=headers or {})
        issuer = dict(x[0] for x in c.sock.getpeercert()['issuer']).get('commonName')
        r = c.getresponse()
        return {'status': r.status, 'body': r.read().decode(), 'echo': r.headers.get('X-Echo'), 'deny': r.headers.get('X-Airlock-Deny-Reason'), 'issuer': issuer}
    except Exception as e:
        return {'error': type(e).__name__ + ': ' + str(e)}
    finally:
        c.close()
system = ssl.create_default_context()
upstream_only = ssl.create_default_context(cadata=up_ca)
out = {'placeholder_shape': bool(re.fullmatch(r'airlock-brokered-[0-9a-f]{32}', ph))}
out['env'] = {k: os.environ.get(k) for k in ('SSL_CERT_FILE', 'NODE_EXTRA_CA_CERTS', 'REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')}
out['bound'] = call(bound, system, {'Authorization': 'Bearer ' + ph})
r = urllib.request.urlopen(urllib.request.Request('https://%s:%d/u' % (bound, port), headers={'Authorization': 'Bearer ' + ph}), timeout=20)
out['urllib'] = [r.status, r.headers.get('X-Echo')]
out['unbound_real'] = call(unbound, upstream_only, {'Authorization': 'Bearer mine'})
out['unbound_system'] = call(unbound, system)
out['bad_cert'] = call(bad, system, {'Authorization': 'Bearer ' + ph})
try:
    open('/etc/ssl/certs/ca-certificates.crt', 'a').write('x')
    out['bundle_write'] = 'written'
except OSError as e:
    out['bundle_write'] = e.strerror
out['bundle_certs'] = open('/etc/ssl/certs/ca-certificates.crt').read().count('BEGIN CERTIFICATE')
found = [k for k, v in os.environ.items() if 'PRIVATE KEY' in v]
for top in ('/etc', '/run', '/tmp', '/usr/local', '/usr/lib/ssl', '/root', '/home'):
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            try:
                if os.path.islink(p) or os.path.getsize(p) > 4 << 20: continue
                if b'PRIVATE KEY' in open(p, 'rb').read(): found.append(p)
            except OSError:
                pass
out['key_material'] = found
print(json.dumps(out))
`;

/**
 * Node (its own CONNECT, then TLS with the default trust and nothing else: NODE_EXTRA_CA_CERTS is
 * what adds the broker CA): prints the issuer it was shown and the status line.
 */
const NODE_CLIENT = `
const http = require('http'), tls = require('tls'), fs = require('fs');
const [host, port] = process.argv.slice(1);
const ph = fs.readFileSync('/run/secrets/api_key', 'utf8');
const proxy = new URL(process.env.https_proxy);
const req = http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':' + port });
req.on('connect', (_res, socket) => {
  let issuer = '', out = '';
  const s = tls.connect({ socket, host }, () => {
    issuer = s.getPeerCertificate().issuer.CN;
    s.write('GET /node HTTP/1.1\\r\\nHost: ' + host + ':' + port + '\\r\\nAuthorization: Bearer ' + ph + '\\r\\nConnection: close\\r\\n\\r\\n');
  });
  s.on('data', (d) => (out += d));
  s.on('end', () => console.log(JSON.stringify({ issuer, status: out.split('\\r\\n')[0] })));
  s.on('error', (e) => console.log(JSON.stringify({ error: e.code || e.message })));
});
req.end();
`;

interface Call {
  status?: number;
  body?: string;
  echo?: string | null;
  deny?: string | null;
  issuer?: string;
  error?: string;
}

// microvm too: the broker CA's trust bundle travels in the guest's authenticated handshake.
for (const runtime of ['namespace', 'gvisor', 'microvm'] as const) {
  describe(`${runtime}: brokered secret over HTTPS`, { skip: reason(runtime) }, () => {
    const defaults = tls.getCACertificates('default');
    const decisions: EgressDecision[] = [];
    let upstreamCa: BrokerCa;
    let upstreams: HttpsUpstreams;
    let service: SandboxService;
    before(async () => {
      upstreamCa = await createBrokerCa('upstream-test-ca');
      // The controller verifies re-originated requests against the system's trust: the test CA joins it here.
      tls.setDefaultCACertificates([...defaults, upstreamCa.certificatePem]);
      upstreams = await startHttpsUpstreams(`albh${process.pid % 100000}${runtime[0]}`, [
        { address: BOUND, ...(await upstreamCa.leafFor(BOUND)) },
        { address: UNBOUND, ...(await upstreamCa.leafFor(UNBOUND)) },
        // A certificate for another address: it must not verify as BAD_CERT.
        { address: BAD_CERT, ...(await upstreamCa.leafFor(UNBOUND)) },
      ]);
      const config: AirlockConfig = { ...base, service: { ...base.service, pools: [] } };
      const bind = { hosts: [BOUND, BAD_CERT], header: 'Authorization', format: 'Bearer {value}' };
      const secrets = new SecretRegistry([new EnvSecretProvider({ api_key: 'AIRLOCK_BROKERED_KEY' }, { AIRLOCK_BROKERED_KEY: REAL })], { api_key: bind });
      service = new SandboxService({ config, secrets, policyBundleHash: await readBundleHash(policyDirOf(config.policy)), observer: { egressDecision: (d) => decisions.push(d) } });
      await service.start();
    });
    after(async () => {
      await service?.shutdown();
      upstreams?.close();
      tls.setDefaultCACertificates(defaults);
    });

    test('the bound host is intercepted with the sandbox\'s own CA and gets the real key; the rest is a blind tunnel', async () => {
      const info = await service.create({
        runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'broker', secrets: ['api_key'],
        network: { mode: 'restricted', allowedHosts: [BOUND, UNBOUND, BAD_CERT].map((a) => `${a}:${upstreams.port}`), services: [] },
      });
      const argv = ['python3', '-c', CLIENT, upstreamCa.certificatePem, String(upstreams.port), BOUND, UNBOUND, BAD_CERT];
      const session = await service.exec(info.sandbox_id, { argv, env: {}, stdin: false, timeoutMs: 60_000 });
      const chunks: string[] = [];
      session.onStdout((c) => chunks.push(c.toString()));
      session.onStderr((c) => chunks.push(c.toString()));
      const result = await session.result;
      assert.equal(result.exit_code, 0, chunks.join(''));
      const out = JSON.parse(chunks.join('')) as Record<string, unknown> & { bound: Call; unbound_real: Call; unbound_system: Call; bad_cert: Call };
      assert.equal(out['placeholder_shape'], true);
      // The trust store: one read-only file, every client's variable pointing at it.
      const path = '/etc/ssl/certs/ca-certificates.crt';
      assert.deepEqual(out['env'], { SSL_CERT_FILE: path, NODE_EXTRA_CA_CERTS: path, REQUESTS_CA_BUNDLE: path, CURL_CA_BUNDLE: path });
      assert.match(String(out['bundle_write']), /Read-only file system|Permission denied/);
      assert.ok(Number(out['bundle_certs']) > 100, 'the image\'s roots are still there, the broker CA added');
      // Bound: shown a leaf of this sandbox's broker CA; the upstream got the key; its echo was redacted.
      assert.equal(out.bound.status, 200, JSON.stringify(out.bound));
      assert.match(out.bound.issuer ?? '', /^airlock broker CA /);
      assert.notEqual(out.bound.issuer, 'airlock broker CA upstream-test-ca');
      assert.equal(out.bound.echo, 'Bearer [REDACTED:api_key]');
      assert.ok(!(out.bound.body ?? '').includes('airlock-brokered-'));
      assert.deepEqual(out['urllib'], [200, 'Bearer [REDACTED:api_key]']);
      const atBound = upstreams.seen.filter((s) => s.address === BOUND);
      assert.equal(atBound.length, 2);
      assert.ok(atBound.every((s) => s.headers['authorization'] === `Bearer ${REAL}`));
      assert.ok(atBound.every((s) => s.headers['host'] === `${BOUND}:${upstreams.port}`));
      // Unbound: a blind tunnel, the upstream's own certificate; a client trusting only the system store (with the broker CA) fails.
      assert.equal(out.unbound_real.status, 200, JSON.stringify(out.unbound_real));
      assert.equal(out.unbound_real.issuer, 'airlock broker CA upstream-test-ca');
      assert.match(out.unbound_system.error ?? '', /CERTIFICATE_VERIFY_FAILED/);
      // Bound, but its certificate is not for it: refused, nothing sent.
      assert.deepEqual([out.bad_cert.status, out.bad_cert.deny], [502, 'upstream_certificate_invalid']);
      assert.equal(upstreams.seen.filter((s) => s.address === BAD_CERT).length, 0);
      // No private key of any kind in the sandbox's files or environment; the value never reached it.
      assert.deepEqual(out['key_material'], []);
      assert.ok(!chunks.join('').includes(REAL));
      assert.ok(!JSON.stringify(decisions).includes(REAL));
      const mine = decisions.filter((d) => d.host === BAD_CERT);
      assert.ok(mine.some((d) => d.reason === 'upstream_certificate_invalid'), JSON.stringify(mine));
      // Node trusts the broker CA through NODE_EXTRA_CA_CERTS alone.
      const node = await service.exec(info.sandbox_id, { argv: ['node', '-e', NODE_CLIENT, BOUND, String(upstreams.port)], env: {}, stdin: false, timeoutMs: 30_000 });
      const nodeOut: string[] = [];
      node.onStdout((c) => nodeOut.push(c.toString()));
      node.onStderr((c) => nodeOut.push(c.toString()));
      assert.equal((await node.result).exit_code, 0, nodeOut.join(''));
      const fromNode = JSON.parse(nodeOut.join('')) as { issuer?: string; status?: string; error?: string };
      assert.match(fromNode.issuer ?? '', /^airlock broker CA /, nodeOut.join(''));
      assert.equal(fromNode.status, 'HTTP/1.1 200 OK');
      assert.equal(upstreams.seen.find((r) => r.path === '/node')?.headers['authorization'], `Bearer ${REAL}`);
      await service.kill(info.sandbox_id);
    });
  });
}
