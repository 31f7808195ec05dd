/**
 * policy_hash: RFC 8785 canonical JSON of everything that decides a sandbox's powers, the Cedar
 * bundle included; each part changes it, operational settings don't, and the service pins on it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { SHIPPED_POLICY_DIR, policyDirOf, readBundleHash } from '../policy/bundle-files.ts';
import { ServiceError } from './errors.ts';
import { activePolicy, activePolicyHash } from './policy-bundle.ts';
import { policyHash } from './policy-hash.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { SandboxService } from './service.ts';

const BUNDLE = `sha256:${'a'.repeat(64)}`;
const base: AirlockConfig = { ...DEFAULT_CONFIG, service: { ...DEFAULT_CONFIG.service, pools: [] } };
const hashOf = (config: AirlockConfig, bundle = BUNDLE) => activePolicyHash(config, bundle);

describe('canonical JSON (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units, writes numbers the ECMAScript way, drops undefined members', () => {
    assert.equal(canonicalJson({ b: 1, a: [1e21, -0, 0.1, 'é'], c: undefined, '\u20ac': 1, '\r': 2 }), '{"\\r":2,"a":[1e+21,0,0.1,"é"],"b":1,"€":1}');
    // As in RFC 8785 section 3.2.3: UTF-16 code units, so an emoji (a surrogate pair) sorts before U+FB33.
    assert.equal(canonicalJson({ '\u00e9': 0, '\ud83d\ude00': 1, '\u0080': 2, '1': 3, '\ufb33': 4 }), '{"1":3,"\u0080":2,"\u00e9":0,"\ud83d\ude00":1,"\ufb33":4}');
  });

  it('refuses what JSON cannot carry instead of hashing something else', () => {
    assert.throws(() => policyHash({ x: Number.NaN }), /NaN/);
    assert.throws(() => policyHash({ x: Number.POSITIVE_INFINITY }), /Infinity/);
  });

  it('the hash is sha256 of the canonical text, whatever the key order', () => {
    const doc = { z: { b: 2, a: 1 }, a: [3, 2] };
    const expected = `sha256:${createHash('sha256').update('{"a":[3,2],"z":{"a":1,"b":2}}').digest('hex')}`;
    assert.equal(policyHash(doc), expected);
    assert.equal(policyHash({ a: [3, 2], z: { a: 1, b: 2 } }), expected);
  });
});

describe('activePolicyHash', () => {
  it('is the hash of the policy document, and stable for the same inputs', () => {
    assert.match(hashOf(base), /^sha256:[0-9a-f]{64}$/);
    assert.equal(hashOf(base), policyHash(activePolicy(base, BUNDLE)));
    assert.equal(hashOf(base), hashOf(structuredClone(base)));
  });

  it('changes with each part that decides what a sandbox may do', () => {
    const variants: Array<[string, AirlockConfig, string?]> = [
      ['Cedar bundle', base, `sha256:${'b'.repeat(64)}`],
      ['limit defaults', { ...base, defaults: { ...base.defaults, memoryMb: 256 } }],
      ['limit maxima', { ...base, maxima: { ...base.maxima, pids: 8192 } }],
      ['sandbox ttl maximum', { ...base, service: { ...base.service, maxTtlSeconds: 60 } }],
      ['file transfer limit', { ...base, service: { ...base.service, fileMaxBytes: 1024 } }],
      ['network services', { ...base, network: { ...base.network, services: { inference: { url: 'http://10.0.0.1:8000', methods: ['POST'], pathPrefixes: ['/v1/'] } } } }],
      ['full-mode resolvers', { ...base, network: { ...base.network, fullModeResolvers: ['8.8.8.8'] } }],
      ['allowlist size', { ...base, network: { ...base.network, maxAllowedHosts: 4 } }],
      ['sandbox subnet', { ...base, network: { ...base.network, subnet: '10.99.0.0/16' } }],
      ['default image', { ...base, defaultImage: 'other' }],
      ['image policy', { ...base, imagePolicy: { rules: [{ name: 'ours', match: ['local/**'], requireSignature: false, keys: [] }], unmatched: 'deny' } }],
      ['grant roots', { ...base, policy: { ...base.policy, hostRoots: ['/srv/work'] } }],
      // The state directory is never grantable: moving it moves a denied prefix.
      ['denied host prefixes', { ...base, stateDir: '/srv/airlock-state' }],
    ];
    const seen = new Map<string, string>([[hashOf(base), 'base']]);
    for (const [what, config, bundle] of variants) {
      const hash = hashOf(config, bundle);
      assert.ok(!seen.has(hash), `${what}: same hash as ${seen.get(hash)}`);
      seen.set(hash, what);
    }
  });

  it('the order services are configured in does not matter (canonical JSON)', () => {
    const route = (url: string) => ({ url, methods: ['GET'], pathPrefixes: ['/'] });
    const ab = { ...base, network: { ...base.network, services: { a: route('http://10.0.0.1'), b: route('http://10.0.0.2') } } };
    const ba = { ...base, network: { ...base.network, services: { b: route('http://10.0.0.2'), a: route('http://10.0.0.1') } } };
    assert.equal(hashOf(ab), hashOf(ba));
  });

  it('does not change with operational settings: pool sizes, the network instance name, the cap', () => {
    assert.equal(hashOf({ ...base, network: { ...base.network, poolSize: 0, instance: 'test' } }), hashOf(base));
    assert.equal(hashOf({ ...base, service: { ...base.service, maxSandboxes: 3, corsOrigins: ['https://x.example'] } }), hashOf(base));
  });

  it('refuses a Cedar bundle hash that is not one (a path, an empty string)', () => {
    for (const bad of ['', 'policies/', 'sha256:xyz', `sha256:${'A'.repeat(64)}`]) assert.throws(() => hashOf(base, bad), /not a Cedar bundle hash/, bad);
  });
});

describe('the Cedar bundle in policy_hash', () => {
  it('readBundleHash (no Cedar) equals the loaded engine hash, so `airlock run` and `serve` report the same policy_hash', async () => {
    const engine = await PolicyEngine.load(policyDirOf(base.policy));
    assert.equal(policyDirOf(base.policy), SHIPPED_POLICY_DIR);
    assert.equal(await readBundleHash(SHIPPED_POLICY_DIR), engine.hash);
    assert.equal(hashOf(base, engine.hash), hashOf(base, await readBundleHash(SHIPPED_POLICY_DIR)));
  });

  it('editing a policy file changes policy_hash', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-policy-hash-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await cp(SHIPPED_POLICY_DIR, dir, { recursive: true });
    const config = { ...base, policy: { ...base.policy, dir } };
    assert.equal(policyDirOf(config.policy), dir);
    const before = hashOf(config, await readBundleHash(dir));
    await writeFile(join(dir, 'extra.cedar'), '@id("extra")\nforbid (principal, action, resource);\n');
    assert.notEqual(hashOf(config, await readBundleHash(dir)), before);
  });
});

describe('the service reports and pins policy_hash', () => {
  it('policyHash covers the bundle it was given; a pin of another hash is refused, the right one passes', async () => {
    const bundle = await readBundleHash(SHIPPED_POLICY_DIR);
    // No driver is ever reached: the cap of 0 refuses whatever got past the pin.
    const config = { ...base, service: { ...base.service, maxSandboxes: 0 } };
    const service = new SandboxService({ config, policyBundleHash: bundle, drivers: new Map() });
    try {
      assert.equal(service.policyHash, activePolicyHash(config, bundle));
      assert.notEqual(service.policyHash, activePolicyHash(config, BUNDLE));
      const request = { agentId: 'a', runtime: 'namespace' as const, limits: {}, env: {}, mounts: [], command: ['/bin/true'] };
      const code = (err: unknown) => (err instanceof ServiceError ? err.code : String(err));
      await assert.rejects(service.execute({ ...request, expectedPolicyHash: activePolicyHash(config, BUNDLE) }), (e) => code(e) === 'policy_mismatch');
      await assert.rejects(service.execute({ ...request, expectedPolicyHash: service.policyHash }), (e) => code(e) === 'capacity_exceeded');
    } finally {
      await service.shutdown();
    }
  });
});
