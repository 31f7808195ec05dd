/** References, the plain-HTTP rule, and WWW-Authenticate challenges. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenge } from './challenge.ts';
import { apiHost, formatReference, originOf, parseReference } from './reference.ts';
import { checkFollowUrl, isLoopbackHost, registryBaseUrl } from './transport.ts';
import { checkOrigin } from '../signatures/policy.ts';

const D = `sha256:${'e'.repeat(64)}`;

test('references: docker.io defaults, registries with ports, tags and digests', () => {
  assert.deepEqual(parseReference('alpine'), { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', digest: undefined });
  assert.deepEqual(parseReference('acme/tool:1.2'), { registry: 'docker.io', repository: 'acme/tool', tag: '1.2', digest: undefined });
  assert.deepEqual(parseReference('127.0.0.1:5000/team/app'), { registry: '127.0.0.1:5000', repository: 'team/app', tag: 'latest', digest: undefined });
  assert.deepEqual(parseReference(`ghcr.io/acme/tool:v1@${D}`), { registry: 'ghcr.io', repository: 'acme/tool', tag: 'v1', digest: D });
  assert.deepEqual(parseReference(`localhost/app@${D}`), { registry: 'localhost', repository: 'app', tag: undefined, digest: D });
  assert.equal(parseReference('index.docker.io/library/alpine').registry, 'docker.io');
  assert.equal(originOf(parseReference('alpine:3')), 'docker.io/library/alpine');
  assert.equal(formatReference({ ...parseReference('ghcr.io/a/b:v2'), digest: D }), `ghcr.io/a/b:v2@${D}`);
  assert.equal(apiHost('docker.io'), 'registry-1.docker.io');
  for (const bad of ['', 'UPPER/case', `app@sha256:${'e'.repeat(10)}`, 'app:bad/tag', 'ghcr.io/a//b', 'a/../b', 'app:-x']) {
    assert.throws(() => parseReference(bad), /invalid image reference/, bad);
  }
});

test('plain HTTP: only loopback, only when asked; redirects and token realms likewise', () => {
  assert.equal(registryBaseUrl('ghcr.io', false).href, 'https://ghcr.io/');
  assert.equal(registryBaseUrl('127.0.0.1:5000', true).href, 'http://127.0.0.1:5000/');
  assert.equal(registryBaseUrl('localhost:5000', true).href, 'http://localhost:5000/');
  assert.equal(registryBaseUrl('[::1]:5000', true).href, 'http://[::1]:5000/');
  for (const r of ['10.0.0.1:5000', 'registry.example', 'docker.io', '[2001:db8::1]:5000', '127.example.com']) {
    assert.throws(() => registryBaseUrl(r, true), /accepted only for a loopback registry/, r);
  }
  assert.equal(isLoopbackHost('127.1.2.3'), true);
  assert.equal(isLoopbackHost('128.0.0.1'), false);
  assert.doesNotThrow(() => checkFollowUrl(new URL('https://auth.example/token'), false, 'token realm'));
  assert.doesNotThrow(() => checkFollowUrl(new URL('http://127.0.0.1:9/token'), true, 'token realm'));
  assert.throws(() => checkFollowUrl(new URL('http://127.0.0.1:9/token'), false, 'token realm'), /token realm http:\/\/127.0.0.1:9 is not HTTPS/);
  assert.throws(() => checkFollowUrl(new URL('http://auth.example/token'), true, 'redirect to'), /is not HTTPS/);
});

test('challenges: Basic and Bearer with quoted parameters', () => {
  assert.deepEqual(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
  });
  assert.deepEqual(parseChallenge('Basic realm="my \\"realm\\""'), { scheme: 'basic', params: { realm: 'my "realm"' } });
  assert.equal(parseChallenge(null), undefined);
  assert.equal(parseChallenge(''), undefined);
});

test('one origin per registry however it is spelled: case, the default HTTPS port and IPv4 forms are canonical, so a rule can\'t be stepped around', () => {
  // Why it matters: a rule for ghcr.io/acme/** that requires a signature must also cover GHCR.IO/acme/app
  // and ghcr.io:443/acme/app, which fetch the very same manifests.
  const rule = { name: 'acme', match: ['ghcr.io/acme/**'], requireSignature: true, keys: [{ id: 'k', pem: '-----BEGIN PUBLIC KEY-----' }] };
  const policy = { rules: [rule], unmatched: 'allow' as const };
  for (const spelled of ['GHCR.IO/acme/app:1', 'Ghcr.Io:443/acme/app', 'ghcr.io:443/acme/app']) {
    assert.equal(originOf(parseReference(spelled)), 'ghcr.io/acme/app', spelled);
    assert.equal(checkOrigin(policy, originOf(parseReference(spelled)))?.name, 'acme', spelled);
  }
  assert.equal(parseReference('INDEX.DOCKER.IO/library/alpine').registry, 'docker.io');
  assert.equal(parseReference('127.1:5000/team/app').registry, '127.0.0.1:5000');
  assert.equal(parseReference('[0:0:0:0:0:0:0:1]:5000/app').registry, '[::1]:5000');
  // Another port is another registry; on loopback (where plain HTTP may be used) :443 is kept as written.
  assert.equal(parseReference('ghcr.io:5000/acme/app').registry, 'ghcr.io:5000');
  assert.equal(parseReference('localhost:443/app').registry, 'localhost:443');
});
