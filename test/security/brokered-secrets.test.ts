/**
 * Brokered credentials on both runtimes, with real sandboxes on a restricted network and local
 * HTTP upstreams (internal services on 127.0.0.1; nothing outside is contacted). A secret bound
 * to the service `web` reaches the sandbox only as a placeholder; the egress proxy swaps the real
 * value into the bound header on requests to `web`, and refuses the placeholder sent to the
 * service `other` (also reachable, not bound) or in a URL, as a POLICY violation on the sandbox.
 * An upstream that echoes the key gets it redacted from its answer before the sandbox sees it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxService } from '../../src/sandbox/service.ts';
import { ServiceError } from '../../src/sandbox/errors.ts';
import { policyDirOf, readBundleHash } from '../../src/policy/bundle-files.ts';
import { EnvSecretProvider, SecretRegistry } from '../../src/secrets/index.ts';
import type { SecurityViolation } from '../../src/sandbox/result.ts';
import type { EgressDecision } from '../../src/network/proxy/index.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from './lib/runtime.ts';

const base = isolatedConfig();
const reason = skipReason(base);
after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`brokered secrets test cleanup: ${problems.join('; ')}\n`);
});

const REAL = 'sk-test-brokered-0123456789abcdef';
const BIND = { hosts: ['web.airlock.internal'], header: 'Authorization', format: 'Bearer {value}' };

/**
 * Python, in the sandbox: prints whether its secret file holds a placeholder (the placeholder
 * itself is redacted from output like a value), the sha256 of its secret file, then for each
 * URL the status of a GET through the proxy with `Authorization: Bearer <placeholder>` and the body.
 */
const CLIENT = `
import hashlib, json, os, sys, urllib.request
for k in ('no_proxy', 'NO_PROXY'): os.environ.pop(k, None)
raw = open('/run/secrets/api_key', 'rb').read()
ph = raw.decode()
import re
out = {'placeholder_shape': bool(re.fullmatch(r'airlock-brokered-[0-9a-f]{32}', ph)), 'sha': hashlib.sha256(raw).hexdigest(), 'env': [k for k, v in os.environ.items() if ph in v], 'answers': []}
for url in sys.argv[1:]:
    req = urllib.request.Request(url.replace('PH', ph), headers={'Authorization': 'Bearer ' + ph, 'X-Trace': 'id=' + ph})
    try:
        r = urllib.request.urlopen(req, timeout=10); out['answers'].append([r.status, r.read().decode(), r.headers.get('X-Echo')])
    except urllib.error.HTTPError as e:
        out['answers'].append([e.code, e.read().decode(), e.headers.get('X-Airlock-Deny-Reason')])
print(json.dumps(out))
`;

interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
}

async function listen(seen: Seen[]): Promise<Server> {
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    // Echoes the credential it got, in a header and the body (as an API's error message might).
    res.setHeader('X-Echo', `got ${req.headers.authorization ?? ''}`);
    res.end(`ok ${req.headers.authorization ?? ''}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

// microvm too: the broker CA's trust bundle travels in the guest's authenticated handshake.
for (const runtime of ['namespace', 'gvisor', 'microvm'] as const) {
  describe(`${runtime}: brokered secret over plain HTTP`, { skip: reason(runtime) }, () => {
    const webSeen: Seen[] = [];
    const otherSeen: Seen[] = [];
    const violations: SecurityViolation[] = [];
    const decisions: EgressDecision[] = [];
    let web: Server;
    let other: Server;
    let service: SandboxService;
    before(async () => {
      web = await listen(webSeen);
      other = await listen(otherSeen);
      const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      const services = { web: { url: url(web), methods: ['GET'], pathPrefixes: ['/'] }, other: { url: url(other), methods: ['GET'], pathPrefixes: ['/'] } };
      const config: AirlockConfig = { ...base, service: { ...base.service, pools: [] }, network: { ...base.network, services } };
      const secrets = new SecretRegistry([new EnvSecretProvider({ api_key: 'AIRLOCK_BROKERED_KEY' }, { AIRLOCK_BROKERED_KEY: REAL })], { api_key: BIND });
      service = new SandboxService({
        config, secrets, policyBundleHash: await readBundleHash(policyDirOf(config.policy)),
        observer: { violationRecorded: (v) => violations.push(v), egressDecision: (d) => decisions.push(d) },
      });
      await service.start();
    });
    after(async () => {
      await service.shutdown();
      await new Promise((r) => web.close(r));
      await new Promise((r) => other.close(r));
    });

    test('the upstream sees the real key, the sandbox only the placeholder; elsewhere is refused', async () => {
      const info = await service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'broker', secrets: ['api_key'], network: { mode: 'restricted', allowedHosts: [], services: ['web', 'other'] } });
      const urls = ['http://web.airlock.internal/v1', 'http://other.airlock.internal/steal', 'http://web.airlock.internal/q?key=PH'];
      const session = await service.exec(info.sandbox_id, { argv: ['python3', '-c', CLIENT, ...urls], env: {}, stdin: false, timeoutMs: 30_000 });
      const chunks: string[] = [];
      session.onStdout((c) => chunks.push(c.toString()));
      const result = await session.result;
      assert.equal(result.exit_code, 0, chunks.join(''));
      const out = JSON.parse(chunks.join('')) as { placeholder_shape: boolean; sha: string; env: string[]; answers: [number, string, string | null][] };
      // The sandbox's file holds a placeholder, not the value, and no variable carries it.
      assert.equal(out.placeholder_shape, true);
      assert.notEqual(out.sha, createHash('sha256').update(REAL).digest('hex'));
      assert.deepEqual(out.env, []);
      // Bound host: forwarded with the value swapped in (the bound header formatted, any other header bare).
      // The upstream echoed the real key: the proxy redacted it from the answer's header and body.
      assert.deepEqual(out.answers[0], [200, 'ok Bearer [REDACTED:api_key]', 'got Bearer [REDACTED:api_key]']);
      assert.equal(webSeen.length, 1, 'the bound service got exactly the allowed request');
      assert.equal(webSeen[0]?.headers.authorization, `Bearer ${REAL}`);
      assert.equal(webSeen[0]?.headers['x-trace'], `id=${REAL}`);
      assert.ok(!JSON.stringify(webSeen).includes('airlock-brokered-'), 'no placeholder reaches the bound upstream');
      // Unbound (but reachable) service, and the placeholder in a URL even to the bound one: refused before any connection.
      assert.deepEqual(out.answers[1]?.[0], 403);
      assert.equal(out.answers[1]?.[2], 'brokered_secret_unbound');
      assert.deepEqual(out.answers[2]?.[0], 403);
      assert.equal(out.answers[2]?.[2], 'brokered_secret_unbound');
      assert.equal(otherSeen.length, 0, 'the unbound service saw nothing');
      assert.equal(webSeen.length, 1, 'the URL-carrying request never reached the bound service');
      // Nothing the sandbox received, nor any decision on record, carries the value.
      assert.ok(!chunks.join('').includes(REAL));
      assert.ok(!JSON.stringify(decisions).includes(REAL) && !JSON.stringify(decisions).includes('airlock-brokered-'));
      // Each refusal is a POLICY violation on the sandbox.
      const mine = service.get(info.sandbox_id).security_violations.filter((v) => v.violation_type === 'brokered_secret_misuse');
      assert.equal(mine.length, 2);
      assert.deepEqual([mine[0]?.detection_layer, mine[0]?.severity, mine[0]?.indicators['secrets']], ['POLICY', 'HIGH', ['api_key']]);
      assert.equal(violations.filter((v) => v.violation_type === 'brokered_secret_misuse').length, 2);
      await service.kill(info.sandbox_id);
    });

    test('a one-shot\'s misuse of the placeholder is in its own result\'s security_violations', async () => {
      const before = otherSeen.length;
      const result = await service.execute({
        agentId: 'broker', runtime, limits: {}, env: {}, mounts: [], secrets: ['api_key'],
        command: ['python3', '-c', CLIENT, 'http://other.airlock.internal/steal'],
        network: { mode: 'restricted', allowedHosts: [], services: ['web', 'other'] },
      });
      assert.equal(result.exit_code, 0, result.error ?? '');
      const answers = (JSON.parse(result.output) as { answers: [number, string, string | null][] }).answers;
      assert.deepEqual([answers[0]?.[0], answers[0]?.[2]], [403, 'brokered_secret_unbound']);
      assert.equal(otherSeen.length, before);
      const mine = result.security_violations.filter((v) => v.violation_type === 'brokered_secret_misuse');
      assert.equal(mine.length, 1, JSON.stringify(result.security_violations));
      assert.deepEqual([mine[0]?.detection_layer, mine[0]?.severity, mine[0]?.indicators['secrets']], ['POLICY', 'HIGH', ['api_key']]);
    });

    test('a brokered secret needs a restricted network (no proxy, no broker): refused before anything starts', async () => {
      await assert.rejects(
        service.create({ runtime, limits: {}, metadata: {}, env: {}, mounts: [], agentId: 'broker', secrets: ['api_key'], network: { mode: 'none', allowedHosts: [], services: [] } }),
        (err: unknown) => err instanceof ServiceError && err.code === 'invalid_request' && /api_key.*restricted/.test(err.message),
      );
    });
  });
}
