/**
 * Authentication over TCP, through the real app and admission: every refusal code of a signed
 * request with real keys in a real store, the unsigned-loopback development switch, and that a
 * signature never reaches the logs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/observability/logger.ts';
import { createSignature } from '../../src/signing/sign.ts';
import { contentDigest } from '../../src/signing/content-digest.ts';
import { generateEd25519KeyPair, keyId } from '../../src/signing/keys.ts';
import { assertError } from '../api/helpers.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { castFixture, controller, HOST, send, type KeyedPrincipal } from './fixture.ts';

const LIST = { method: 'GET', url: '/api/v1/sandboxes' } as const;
const CREATE = { method: 'POST', url: '/api/v1/sandboxes', payload: { ttl_seconds: 60 } } as const;
const now = () => Math.floor(Date.now() / 1000);

/** A signature by `who` over exactly `components` of a create request with its real digest. */
function partialSignature(who: KeyedPrincipal, components: string[], url = CREATE.url) {
  const body = JSON.stringify(CREATE.payload);
  const headers = { host: HOST, 'content-type': 'application/json', 'content-digest': contentDigest(Buffer.from(body)) };
  const fields = createSignature({
    request: { method: 'POST', targetUri: `http://${HOST}${url}`, headers, body },
    components,
    parameters: { created: now(), nonce: `n-${Math.random().toString(36).slice(2)}xxxxxxxx`, keyid: who.keyId, alg: 'ed25519' },
    privateKey: who.privateKey,
  });
  return { method: 'POST' as const, url, headers: { ...headers, ...fields }, payload: CREATE.payload };
}

describe('signed requests over TCP', () => {
  it('an unsigned request is 401 authentication_required, with Accept-Signature saying what to cover', async (t) => {
    const f = await castFixture(t);
    const res = await f.send(undefined, LIST);
    assertError(res, 401, 'authentication_required');
    assert.match(String(res.headers['accept-signature']), /"@method" "@target-uri" "content-digest".*keyid.*alg="ed25519"/);
    // The public routes stay public.
    assert.equal((await f.send(undefined, { method: 'GET', url: '/health' })).statusCode, 200);
  });

  it('a request signed by a registered key is its principal', async (t) => {
    const f = await castFixture(t);
    const res = await f.send(f.people.alice, CREATE);
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().owner, 'alice');
  });

  it('refuses a missing half or a malformed signature', async (t) => {
    const f = await castFixture(t);
    const onlyInput = await f.send(f.people.alice, LIST, { tamper: (r) => delete r.headers.signature });
    assertError(onlyInput, 401, 'signature_missing');
    const onlySignature = await f.send(f.people.alice, LIST, { tamper: (r) => delete r.headers['signature-input'] });
    assertError(onlySignature, 401, 'signature_missing');
    for (const garbage of ['sig1=', '((', 'sig1=:not base64:']) {
      assertError(await f.send(f.people.alice, LIST, { tamper: (r) => (r.headers.signature = garbage) }), 401, 'signature_malformed');
    }
    assertError(await f.send(f.people.alice, LIST, { tamper: (r) => (r.headers['signature-input'] = 'sig1=("@method";created') }), 401, 'signature_malformed');
  });

  it('refuses an unknown key and a revoked one', async (t) => {
    const f = await castFixture(t);
    const pair = generateEd25519KeyPair();
    const stranger: KeyedPrincipal = { name: 'x', role: 'agent', agentId: 'x', keyId: keyId(pair.publicKey), ...pair };
    assertError(await f.send(stranger, LIST), 401, 'key_unknown');
    assert.equal((await f.send(f.people.alice, LIST)).statusCode, 200);
    await f.store.revokeKey(f.people.alice.keyId);
    assertError(await f.send(f.people.alice, LIST), 401, 'key_unknown');
  });

  it('refuses a body that does not match its digest, and nothing is created', async (t) => {
    const f = await castFixture(t);
    const res = await f.send(f.people.alice, CREATE, { tamper: (r) => (r.body = JSON.stringify({ ttl_seconds: 3600 })) });
    assertError(res, 401, 'digest_mismatch');
    assert.equal(f.service.created.length, 0);
  });

  it('refuses created outside the allowed skew, in both directions', async (t) => {
    const f = await castFixture(t);
    for (const created of [now() - 120, now() + 120]) assertError(await f.send(f.people.alice, LIST, { created }), 401, 'signature_stale');
    // Inside the default 60 s either way it passes.
    assert.equal((await f.send(f.people.alice, LIST, { created: now() - 30 })).statusCode, 200);
    assert.equal((await f.send(f.people.alice, LIST, { created: now() + 30 })).statusCode, 200);
  });

  it('refuses the same request sent twice (nonce replay): the replayed create creates nothing', async (t) => {
    const f = await castFixture(t);
    const created = now();
    const nonce = 'replay-me-0123456789';
    assert.equal((await f.send(f.people.alice, CREATE, { created, nonce })).statusCode, 201);
    assertError(await f.send(f.people.alice, CREATE, { created, nonce }), 401, 'nonce_replayed');
    assert.equal(f.service.created.length, 1);
  });

  it('remembers nonces across a controller restart: a request replayed to the new controller is refused', async (t) => {
    const f = await castFixture(t);
    const signed = { created: now(), nonce: 'replay-after-restart-01' };
    assert.equal((await f.send(f.people.alice, CREATE, signed)).statusCode, 201);
    await f.app.close();
    await f.store.close();
    const reopened = await SqliteStore.open({ path: f.path });
    t.after(() => reopened.close());
    const { app, service } = await controller(t, reopened);
    assertError(await send(app, f.people.alice, CREATE, signed), 401, 'nonce_replayed');
    assert.equal(service.created.length, 0);
    assert.equal((await send(app, f.people.alice, CREATE)).statusCode, 201);
  });

  it('refuses a signature that does not cover content-digest or @target-uri', async (t) => {
    const f = await castFixture(t);
    assertError(await f.send(undefined, partialSignature(f.people.alice, ['@method', '@target-uri'])), 401, 'components_missing');
    assertError(await f.send(undefined, partialSignature(f.people.alice, ['@method', 'content-digest'])), 401, 'components_missing');
    assertError(await f.send(undefined, partialSignature(f.people.alice, ['@target-uri', 'content-digest'])), 401, 'components_missing');
    assert.equal((await f.send(undefined, partialSignature(f.people.alice, ['@method', '@target-uri', 'content-digest']))).statusCode, 201);
    assert.equal(f.service.created.length, 1);
  });

  it('refuses a signature by another key than its keyid names, and a request whose path was changed', async (t) => {
    const f = await castFixture(t);
    const forged: KeyedPrincipal = { ...f.people.alice, privateKey: f.people.bob.privateKey };
    assertError(await f.send(forged, LIST), 401, 'signature_invalid');
    const own = (await f.send(f.people.alice, CREATE)).json().sandbox_id as string;
    const other = (await f.send(f.people.bob, CREATE)).json().sandbox_id as string;
    // Signed for alice's sandbox, sent to bob's: the target URI is covered.
    const moved = await f.send(f.people.alice, { method: 'DELETE', url: `/api/v1/sandboxes/${own}` }, { tamper: (r) => (r.url = `/api/v1/sandboxes/${other}`) });
    assertError(moved, 401, 'signature_invalid');
    const query = await f.send(f.people.alice, LIST, { tamper: (r) => (r.url = `${LIST.url}?x=1`) });
    assertError(query, 401, 'signature_invalid');
    assert.equal(f.service.get(other).state, 'running');
  });

  it('accepts a signature covering more components than required', async (t) => {
    const f = await castFixture(t);
    const res = await f.send(f.people.alice, CREATE, { extraComponents: ['content-type', '@authority', '@path'] });
    assert.equal(res.statusCode, 201, res.body);
  });
});

describe('the unsigned-loopback development switch', () => {
  it('off (the default): an unsigned loopback request is refused', async (t) => {
    const f = await castFixture(t);
    assertError(await f.send(undefined, { ...LIST, remoteAddress: '127.0.0.1' }), 401, 'authentication_required');
    assert.deepEqual((await f.send(undefined, { method: 'GET', url: '/health' })).json().authentication, { unix_socket: false, signed_requests: true, unsigned_loopback: false });
  });

  it('on: unsigned requests act as the configured principal, from loopback only', async (t) => {
    const f = await castFixture(t, { auth: { unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'agent', groups: [] } } });
    assert.equal((await f.send(undefined, { method: 'GET', url: '/health' })).json().authentication.unsigned_loopback, true);
    for (const remoteAddress of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      const res = await f.send(undefined, { ...CREATE, remoteAddress });
      assert.equal(res.statusCode, 201, `${remoteAddress}: ${res.body}`);
      assert.equal(res.json().owner, 'dev');
    }
    for (const remoteAddress of ['10.0.0.5', '::ffff:10.0.0.5', '192.168.1.2']) {
      assertError(await f.send(undefined, { ...CREATE, remoteAddress }), 401, 'authentication_required');
    }
    assert.equal(f.service.created.length, 3);
  });

  it('on: a signed request is still verified, never downgraded to the unsigned principal', async (t) => {
    const f = await castFixture(t, { auth: { unsignedLoopback: true, unsignedLoopbackAs: { name: 'dev', role: 'operator', groups: [] } } });
    const forged: KeyedPrincipal = { ...f.people.alice, privateKey: f.people.bob.privateKey };
    assertError(await f.send(forged, CREATE), 401, 'signature_invalid');
    assertError(await f.send(f.people.alice, CREATE, { tamper: (r) => delete r.headers.signature }), 401, 'signature_missing');
    assertError(await f.send(f.people.alice, CREATE, { created: now() - 600 }), 401, 'signature_stale');
    // Empty signature fields still count as signed: refused, never read as "unsigned".
    for (const headers of [{ signature: '' }, { 'signature-input': '' }, { signature: '', 'signature-input': '' }]) {
      const res = await f.send(undefined, { ...CREATE, headers });
      assert.equal(res.statusCode, 401, `${JSON.stringify(headers)}: ${res.body}`);
      assert.match(res.json().error.code, /^signature_(missing|malformed)$/);
    }
    const good = await f.send(f.people.alice, CREATE);
    assert.equal(good.statusCode, 201);
    assert.equal(good.json().owner, 'alice');
    assert.equal(f.service.created.length, 1);
  });
});

describe('logs', () => {
  it('never carry a signature, accepted or refused', async (t) => {
    const lines: string[] = [];
    const { logger } = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
    const f = await castFixture(t, { logger });
    const seen: string[] = [];
    const keep = (r: { headers: Record<string, string> }) => {
      seen.push(r.headers.signature ?? '', r.headers['signature-input'] ?? '');
    };
    assert.equal((await f.send(f.people.alice, CREATE, { tamper: keep })).statusCode, 201);
    const forged: KeyedPrincipal = { ...f.people.alice, privateKey: f.people.bob.privateKey };
    assertError(await f.send(forged, CREATE, { tamper: keep }), 401, 'signature_invalid');
    assertError(await f.send(f.people.alice, CREATE, { tamper: (r) => (keep(r), (r.body = '{"ttl_seconds":61}')) }), 401, 'digest_mismatch');
    assert.ok(lines.length >= 6, `the app logged its requests: ${lines.length} lines`);
    const log = lines.join('');
    for (const value of seen) {
      assert.ok(value.length > 20);
      assert.ok(!log.includes(value), `a signature field value was logged: ${value}`);
      // The signature's bytes alone (without the label) neither.
      const bytes = /:([^:]+):/.exec(value)?.[1];
      if (bytes !== undefined) assert.ok(!log.includes(bytes));
    }
  });
});
