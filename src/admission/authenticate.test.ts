import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_AUTH_CONFIG, type AuthConfig } from '../config/auth-config.ts';
import { signRequest } from '../signing/sign.ts';
import { SqliteStore } from '../store/index.ts';
import { freshKey, tempStorePath } from '../store/test-helpers.ts';
import { Authenticator } from './authenticate.ts';
import { refusalOf } from './test-helpers.ts';

const auth = (over: Partial<AuthConfig> = {}): AuthConfig => ({ ...DEFAULT_AUTH_CONFIG, ...over });

async function storeWithAgent(t: TestContext) {
  const store = await SqliteStore.open({ path: (await tempStorePath(t)).path });
  t.after(() => store.close());
  const key = freshKey();
  await store.addPrincipal({ name: 'ci-agent', role: 'agent', agentId: 'team-a', groups: ['ci'], publicKeyPem: key.pem });
  return { store, key };
}

describe('Authenticator', () => {
  it('a unix-socket or local-process root is the operator root; a listed uid its principal; others nobody', async () => {
    const a = new Authenticator({ auth: auth({ localUsers: [{ uid: 1000, name: 'dev', role: 'agent', groups: ['b', 'a', 'b'] }] }) });
    assert.deepEqual(await a.authenticate({ kind: 'unix-socket', peerUid: 0 }), { name: 'root', role: 'operator', agentId: 'root', groups: [], via: 'unix-socket', uid: 0 });
    assert.deepEqual(await a.authenticate({ kind: 'local-process', uid: 1000 }), { name: 'dev', role: 'agent', agentId: 'dev', groups: ['a', 'b'], via: 'local-process', uid: 1000 });
    const unknown = await refusalOf(a.authenticate({ kind: 'unix-socket', peerUid: 1001 }));
    assert.equal(unknown.code, 'local_user_unknown');
    assert.equal(unknown.step, 'authenticate');
  });

  it('a socket peer whose uid could not be read is refused, never taken for root', async () => {
    const a = new Authenticator({ auth: auth() });
    const r = await refusalOf(a.authenticate({ kind: 'unix-socket', peerUid: undefined }));
    assert.equal(r.code, 'peer_credentials_unavailable');
  });

  it('unsigned TCP is refused unless the switch is on and the peer is loopback', async () => {
    const request = { method: 'GET', targetUri: 'http://localhost/api/v1/sandboxes', headers: { host: 'localhost' } };
    const off = new Authenticator({ auth: auth() });
    assert.equal((await refusalOf(off.authenticate({ kind: 'tcp', loopback: true, request }))).code, 'authentication_required');
    const on = new Authenticator({ auth: auth({ unsignedLoopback: true }) });
    assert.equal((await refusalOf(on.authenticate({ kind: 'tcp', loopback: false, request }))).code, 'authentication_required');
    // The default principal of the switch is an agent: a forgotten switch grants an agent's rights only.
    assert.deepEqual(await on.authenticate({ kind: 'tcp', loopback: true, request }), { name: 'loopback', role: 'agent', agentId: 'loopback', groups: [], via: 'unsigned-loopback' });
  });

  it('a signed request is verified against the store, and the principal carries its attributes and key id', async (t) => {
    const { store, key } = await storeWithAgent(t);
    const a = new Authenticator({ auth: auth(), store });
    const body = '{"x":1}';
    const base = { method: 'POST', targetUri: 'http://127.0.0.1:8002/api/v1/sandboxes', headers: { host: '127.0.0.1:8002', 'content-type': 'application/json' }, body };
    const signed = { ...base, headers: { ...base.headers, ...signRequest({ request: base, privateKey: key.privateKey }) } };
    const caller = await a.authenticate({ kind: 'tcp', loopback: false, request: signed });
    assert.deepEqual(caller, { name: 'ci-agent', role: 'agent', agentId: 'team-a', groups: ['ci'], via: 'signature', keyId: key.id });
    // The same request again is a replay.
    const replay = await refusalOf(a.authenticate({ kind: 'tcp', loopback: false, request: signed }));
    assert.deepEqual([replay.step, replay.code], ['signature', 'nonce_replayed']);
    // A tampered body fails its digest.
    const fresh = { ...base, headers: { ...base.headers, ...signRequest({ request: base, privateKey: key.privateKey }) } };
    assert.equal((await refusalOf(a.authenticate({ kind: 'tcp', loopback: false, request: { ...fresh, body: '{"x":2}' } }))).code, 'digest_mismatch');
  });

  it('with the switch on, a signed request is still held to its signature (no downgrade)', async (t) => {
    const { store, key } = await storeWithAgent(t);
    const a = new Authenticator({ auth: auth({ unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'operator', groups: [] } }), store });
    const base = { method: 'GET', targetUri: 'http://localhost/api/v1/sandboxes', headers: { host: 'localhost' } };
    const headers = signRequest({ request: base, privateKey: key.privateKey });
    const forged = { ...base, targetUri: 'http://localhost/api/v1/sandboxes/s-other', headers: { ...base.headers, ...headers } };
    assert.equal((await refusalOf(a.authenticate({ kind: 'tcp', loopback: true, request: forged }))).code, 'signature_invalid');
  });

  it('without a store a signed request can not be verified and is refused', async () => {
    const key = freshKey();
    const base = { method: 'GET', targetUri: 'http://localhost/x', headers: { host: 'localhost' } };
    const request = { ...base, headers: { ...base.headers, ...signRequest({ request: base, privateKey: key.privateKey }) } };
    const r = await refusalOf(new Authenticator({ auth: auth() }).authenticate({ kind: 'tcp', loopback: true, request }));
    assert.equal(r.code, 'key_unknown');
    assert.equal(new Authenticator({ auth: auth() }).modes.signatures, false);
  });
});
