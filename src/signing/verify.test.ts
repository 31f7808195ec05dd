// Sign → verify round trips and every refusal reason of the request verifier.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generateEd25519KeyPair, keyId } from './keys.ts';
import type { SignableRequest } from './message.ts';
import type { SignatureRefusalCode } from './refusal.ts';
import { MemoryReplayCache, type ReplayCache } from './replay-cache.ts';
import { createSignature, signRequest } from './sign.ts';
import { RequestVerifier, type HeaderVerification, type VerifyResult } from './verify.ts';

const NOW_S = 1_800_000_000;
const { privateKey, publicKey } = generateEd25519KeyPair();
const KID = keyId(publicKey);
const BODY = '{"command":"echo hi"}';
const REQUEST: SignableRequest = {
  method: 'POST',
  targetUri: 'http://127.0.0.1:8002/api/v1/sandbox/execute?wait=1',
  headers: { 'content-type': 'application/json', host: '127.0.0.1:8002' },
  body: BODY,
};

interface Principal {
  readonly publicKey: KeyObject;
  readonly name: string;
}

function verifier(options: { keys?: Map<string, Principal>; cache?: ReplayCache; nowS?: number; skew?: number } = {}): RequestVerifier<Principal> {
  const keys = options.keys ?? new Map([[KID, { publicKey, name: 'agent-1' }]]);
  return new RequestVerifier<Principal>({
    lookupKey: (kid) => keys.get(kid),
    replayCache: options.cache ?? new MemoryReplayCache(),
    now: () => (options.nowS ?? NOW_S) * 1000,
    ...(options.skew !== undefined ? { maxSkewSeconds: options.skew } : {}),
  });
}

/** The request as the server receives it: the caller's headers plus what signing added. */
function signed(request: SignableRequest = REQUEST, extra: Partial<Parameters<typeof signRequest>[0]> = {}): SignableRequest {
  const headers = signRequest({ request, privateKey, created: NOW_S, ...extra });
  return { ...request, headers: { ...request.headers, ...headers } };
}

function assertRefused(result: VerifyResult<Principal> | HeaderVerification<Principal>, code: SignatureRefusalCode, reason?: RegExp): void {
  assert.equal(result.ok, false, 'expected a refusal');
  if (result.ok) return;
  assert.equal(result.code, code, result.reason);
  if (reason) assert.match(result.reason, reason);
}

describe('signRequest → RequestVerifier', () => {
  it('accepts a signed request with a body and returns the principal the lookup attached', async () => {
    const request = signed();
    assert.match(String(request.headers['content-digest']), /^sha-256=:[A-Za-z0-9+/]{43}=:$/);
    assert.match(String(request.headers['signature-input']), /^sig1=\("@method" "@target-uri" "content-digest"\);created=1800000000;nonce="[A-Za-z0-9_-]{22}";keyid="[A-Za-z0-9_-]{43}";alg="ed25519"$/);
    const result = await verifier().verify(request);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.key.name, 'agent-1');
    assert.equal(result.keyid, KID);
    assert.deepEqual(result.components, ['@method', '@target-uri', 'content-digest']);
  });

  it('accepts a bodyless request that covers only @method and @target-uri', async () => {
    const get: SignableRequest = { method: 'GET', targetUri: 'http://localhost:8002/api/v1/sandboxes', headers: {} };
    const request = signed(get);
    assert.equal(request.headers['content-digest'], undefined);
    const result = await verifier().verify(request);
    assert.ok(result.ok, result.ok ? '' : result.reason);
  });

  it('accepts a signature that covers more than required (extra headers and derived components)', async () => {
    const request = signed(REQUEST, { extraComponents: ['content-type', '@authority', '@path', '@query', '@scheme', '@request-target'] });
    const result = await verifier().verify(request);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.components.length, 9);
  });

  it('accepts a signature with a different label, and a chosen label when several are present', async () => {
    const request = signed(REQUEST, { label: 'airlock' });
    assert.ok((await verifier().verify(request)).ok);
    const other = signRequest({ request: REQUEST, privateKey, created: NOW_S, label: 'other' });
    const both = { ...request, headers: { ...request.headers, 'signature-input': `${String(request.headers['signature-input'])}, ${other['signature-input']}`, signature: `${String(request.headers.signature)}, ${other.signature}` } };
    assertRefused(await verifier().verify(both), 'signature_malformed', /exactly one signature, found 2/);
    const chosen = new RequestVerifier<Principal>({ lookupKey: () => ({ publicKey, name: 'a' }), replayCache: new MemoryReplayCache(), now: () => NOW_S * 1000, label: 'other' });
    assert.ok((await chosen.verify(both)).ok);
  });
});

describe('refusals, one code each', () => {
  it('signature_missing: no headers, or only one of the two', async () => {
    assertRefused(await verifier().verify(REQUEST), 'signature_missing', /not signed/);
    const request = signed();
    const { signature: _s, ...noSignature } = request.headers;
    assertRefused(await verifier().verify({ ...request, headers: noSignature }), 'signature_missing', /without Signature$/);
    const { 'signature-input': _i, ...noInput } = request.headers;
    assertRefused(await verifier().verify({ ...request, headers: noInput }), 'signature_missing', /without Signature-Input/);
  });

  it('signature_malformed: unparseable fields, wrong shapes, bad parameter types, another alg, unsupported components', async () => {
    const request = signed();
    const input = String(request.headers['signature-input']);
    const cases: [Record<string, string>, SignatureRefusalCode, RegExp][] = [
      [{ 'signature-input': 'sig1=(' }, 'signature_malformed', /Signature-Input is not a structured dictionary/],
      [{ signature: 'sig1=:not base64' }, 'signature_malformed', /Signature is not a structured dictionary/],
      [{ 'signature-input': 'sig1="@method";created=1' }, 'signature_malformed', /Signature-Input sig1 is not an inner list/],
      [{ signature: 'sig1="text"' }, 'signature_malformed', /Signature sig1 is not a byte sequence/],
      [{ 'signature-input': input.replace('sig1=', 'sig2=') }, 'signature_missing', /no Signature labelled sig2/],
      [{ 'signature-input': input.replace('"@method"', 'method') }, 'signature_malformed', /lists a component that is not a string/],
      [{ 'signature-input': input.replace(/created=\d+/, 'created="1800000000"') }, 'signature_malformed', /created must be an integer/],
      [{ 'signature-input': input.replace(/nonce="[^"]+"/, 'nonce="short"') }, 'signature_malformed', /nonce must be a string of 16 to 256/],
      [{ 'signature-input': input.replace('alg="ed25519"', 'alg="rsa-pss-sha512"') }, 'signature_malformed', /alg must be "ed25519"/],
      [{ 'signature-input': input.replace('alg="ed25519"', 'alg=ed25519') }, 'signature_malformed', /alg must be "ed25519"/],
    ];
    for (const [override, code, reason] of cases) {
      assertRefused(await verifier().verify({ ...request, headers: { ...request.headers, ...override } }), code, reason);
    }
    // Component parameters and unknown derived components are refused, never half-understood.
    for (const components of [['@method', '@target-uri', 'content-digest', '@status'], ['@method', '@target-uri', 'content-digest', 'content-digest']]) {
      const fields = createSignature({ request: REQUEST, components: ['@method', '@target-uri'], parameters: { created: NOW_S, nonce: 'n'.repeat(22), keyid: KID, alg: 'ed25519' }, privateKey });
      const tampered = fields['signature-input'].replace('"@method" "@target-uri"', components.map((c) => `"${c}"`).join(' '));
      const digest = signRequest({ request: REQUEST, privateKey })['content-digest'] ?? '';
      assertRefused(await verifier().verify({ ...REQUEST, headers: { ...REQUEST.headers, 'content-digest': digest, 'signature-input': tampered, signature: fields.signature } }), 'signature_malformed', /@status is not supported|covered twice/);
    }
    const sf = signed().headers;
    assertRefused(await verifier().verify({ ...REQUEST, headers: { ...sf, 'signature-input': String(sf['signature-input']).replace('"content-digest"', '"content-digest" "content-type";sf') } }), 'signature_malformed', /has parameters \(sf\)/);
  });

  it('components_missing: a signature without @target-uri, without content-digest over a body, or without nonce/alg', async () => {
    const sign = (components: string[], parameters: Record<string, string | number>) => {
      const fields = createSignature({ request: REQUEST, components, parameters, privateKey });
      return { ...REQUEST, headers: { ...REQUEST.headers, ...fields } };
    };
    const full = { created: NOW_S, nonce: 'n'.repeat(22), keyid: KID, alg: 'ed25519' };
    assertRefused(await verifier().verify(sign(['@method', '@path', '@authority'], full)), 'components_missing', /does not cover @target-uri, content-digest$/);
    assertRefused(await verifier().verify(sign(['@method', '@target-uri'], full)), 'components_missing', /does not cover content-digest$/);
    const { nonce: _n, alg: _a, ...noNonce } = full;
    assertRefused(await verifier().verify(sign(['@method', '@target-uri'], noNonce)), 'components_missing', /;nonce, ;alg/);
  });

  it('key_unknown: a keyid nobody registered, a revoked key (the lookup answers undefined), a non-Ed25519 registered key', async () => {
    const stranger = generateEd25519KeyPair();
    const request = { ...REQUEST, headers: { ...REQUEST.headers, ...signRequest({ request: REQUEST, privateKey: stranger.privateKey, created: NOW_S }) } };
    assertRefused(await verifier().verify(request), 'key_unknown', new RegExp(`no active key with keyid ${keyId(stranger.publicKey)}`));
    assertRefused(await verifier({ keys: new Map() }).verify(signed()), 'key_unknown');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    assertRefused(await verifier({ keys: new Map([[KID, { publicKey: rsa, name: 'x' }]]) }).verify(signed()), 'key_unknown', /not an Ed25519 public key/);
  });

  it('signature_invalid: signed by another key under this keyid, a tampered method, target or covered header, an absent covered header', async () => {
    const impostor = generateEd25519KeyPair();
    const forged = { ...REQUEST, headers: { ...REQUEST.headers, ...signRequest({ request: REQUEST, privateKey: impostor.privateKey, keyid: KID, created: NOW_S }) } };
    assertRefused(await verifier().verify(forged), 'signature_invalid', /does not verify/);
    const request = signed();
    assertRefused(await verifier().verify({ ...request, method: 'DELETE' }), 'signature_invalid');
    assertRefused(await verifier().verify({ ...request, targetUri: 'http://127.0.0.1:8002/api/v1/sandbox/execute?wait=0' }), 'signature_invalid');
    const withType = signed(REQUEST, { extraComponents: ['content-type'] });
    assertRefused(await verifier().verify({ ...withType, headers: { ...withType.headers, 'content-type': 'text/plain' } }), 'signature_invalid');
    const { 'content-type': _t, ...noType } = withType.headers;
    assertRefused(await verifier().verify({ ...withType, headers: noType }), 'signature_invalid', /"content-type" is absent/);
    // A swapped Content-Digest header (matching the new body) breaks the signature, not just the digest.
    const swapped = signed({ ...REQUEST, body: '{"command":"rm -rf /"}' });
    assertRefused(await verifier().verify({ ...request, body: swapped.body, headers: { ...request.headers, 'content-digest': swapped.headers['content-digest'] } }), 'signature_invalid');
    // A signature value of the wrong length.
    assertRefused(await verifier().verify({ ...request, headers: { ...request.headers, signature: 'sig1=:AAAA:' } }), 'signature_invalid');
  });

  it('digest_mismatch: a body changed after signing, or a Content-Digest without sha-256', async () => {
    const request = signed();
    assertRefused(await verifier().verify({ ...request, body: '{"command":"rm -rf /"}' }), 'digest_mismatch', /does not match its Content-Digest/);
    assertRefused(await verifier().verify({ ...request, body: undefined }), 'digest_mismatch');
    // The signer covered a sha-512-only Content-Digest: the body is not vouched for by sha-256.
    const headers = { ...REQUEST.headers, 'content-digest': 'sha-512=:AAAA:' };
    const fields = createSignature({ request: { ...REQUEST, headers }, components: ['@method', '@target-uri', 'content-digest'], parameters: { created: NOW_S, nonce: 'n'.repeat(22), keyid: KID, alg: 'ed25519' }, privateKey });
    assertRefused(await verifier().verify({ ...REQUEST, headers: { ...headers, ...fields } }), 'digest_mismatch', /no sha-256 member/);
  });

  it('signature_stale: created beyond the skew either way (default 60 s, configurable), or an expired signature', async () => {
    const request = signed();
    assert.ok((await verifier({ nowS: NOW_S + 60 }).verify(request)).ok, 'exactly 60 s is inside the window');
    assertRefused(await verifier({ nowS: NOW_S + 61 }).verify(request), 'signature_stale', /created is 61 s from the server clock; at most 60 s/);
    assertRefused(await verifier({ nowS: NOW_S - 61 }).verify(request), 'signature_stale', /created is -61 s/);
    assertRefused(await verifier({ nowS: NOW_S + 11, skew: 10 }).verify(request), 'signature_stale', /at most 10 s/);
    const headers = { ...REQUEST.headers, 'content-digest': String(request.headers['content-digest']) };
    const fields = createSignature({ request: { ...REQUEST, headers }, components: ['@method', '@target-uri', 'content-digest'], parameters: { created: NOW_S - 5, expires: NOW_S - 1, nonce: 'n'.repeat(22), keyid: KID, alg: 'ed25519' }, privateKey });
    assertRefused(await verifier().verify({ ...REQUEST, headers: { ...headers, ...fields } }), 'signature_stale', /expired/);
  });

  it('nonce_replayed: the same signed request twice, until the window closes; forged requests do not burn nonces', async () => {
    const cache = new MemoryReplayCache();
    const request = signed();
    // A forged copy (tampered body) with the same nonce is refused for its own reason and not remembered.
    assertRefused(await verifier({ cache }).verify({ ...request, method: 'PUT' }), 'signature_invalid');
    assert.equal(cache.size, 0);
    assert.ok((await verifier({ cache }).verify(request)).ok);
    assertRefused(await verifier({ cache }).verify(request), 'nonce_replayed', /already used/);
    assertRefused(await verifier({ cache, nowS: NOW_S + 60 }).verify(request), 'nonce_replayed');
    // After the window, the same request is refused as stale, never accepted again.
    assertRefused(await verifier({ cache, nowS: NOW_S + 61 }).verify(request), 'signature_stale');
    // The same nonce under another key is another signer's nonce.
    const other = generateEd25519KeyPair();
    const keys = new Map([[KID, { publicKey, name: 'a' }], [keyId(other.publicKey), { publicKey: other.publicKey, name: 'b' }]]);
    const nonce = 'fixed-nonce-0123456789';
    const mine = signed(REQUEST, { nonce });
    const theirs = { ...REQUEST, headers: { ...REQUEST.headers, ...signRequest({ request: REQUEST, privateKey: other.privateKey, created: NOW_S, nonce }) } };
    const shared = new MemoryReplayCache();
    assert.ok((await verifier({ keys, cache: shared }).verify(mine)).ok);
    assert.ok((await verifier({ keys, cache: shared }).verify(theirs)).ok);
  });

  it('replay_cache_full: a cache full of live nonces refuses rather than forgetting one', async () => {
    const cache = new MemoryReplayCache({ maxEntries: 1 });
    assert.ok((await verifier({ cache }).verify(signed())).ok);
    assertRefused(await verifier({ cache }).verify(signed()), 'replay_cache_full');
  });

  it('no refusal reason quotes the signature value', async () => {
    const request = signed();
    const signatureValue = String(request.headers.signature).slice('sig1=:'.length, -1);
    const results = [
      await verifier().verify({ ...request, method: 'PUT' }),
      await verifier({ nowS: NOW_S + 999 }).verify(request),
      await verifier({ keys: new Map() }).verify(request),
      await verifier().verify({ ...request, body: 'x' }),
    ];
    for (const r of results) assert.ok(!r.ok && !r.reason.includes(signatureValue) && !r.reason.includes(signatureValue.slice(0, 16)));
  });
  it('in two halves: headers first (nothing remembered), then the body against its digest and the nonce', async () => {
    const cache = new MemoryReplayCache();
    const request = signed();
    const { body, ...head } = request;
    const first = await verifier({ cache }).verifyHeaders(head, true);
    assert.ok(first.ok);
    // The headers alone remember no nonce: the full request still verifies once.
    assert.equal((await verifier({ cache }).verify(request)).ok, true);
    assertRefused(await verifier({ cache }).completeWithBody(first, body), 'nonce_replayed');
    const other = await verifier().verifyHeaders(head, true);
    assert.ok(other.ok);
    assertRefused(await verifier().completeWithBody(other, '{"command":"rm -rf /"}'), 'digest_mismatch');
    // Headers that announced no body cover no digest: a body that turns up anyway is not bound, so refused.
    const bodiless = signed({ ...REQUEST, body: undefined, headers: { host: 'airlock.example' } });
    const noDigest = await verifier().verifyHeaders(bodiless, false);
    assert.ok(noDigest.ok);
    assertRefused(await verifier().completeWithBody(noDigest, 'smuggled'), 'components_missing', /has a body/);
    // Announcing a body while the signature covers no digest is refused on the headers.
    assertRefused(await verifier().verifyHeaders(bodiless, true), 'components_missing', /content-digest/);
  });
});
