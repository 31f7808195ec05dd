// RFC 9421 appendix B.2.6 (Ed25519) as a test vector, with the appendix B.1.4 test key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verify } from 'node:crypto';
import { parseDictionary } from 'structured-headers';
import { parsePrivateKeyPem, parsePublicKeyPem } from './keys.ts';
import { MemoryReplayCache } from './replay-cache.ts';
import { createSignature } from './sign.ts';
import { signatureBase, type SignatureParameters } from './signature-base.ts';
import { RequestVerifier } from './verify.ts';

// B.1.4 test-key-ed25519.
const PRIVATE_PEM = '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n';
const PUBLIC_PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n';

// B.2 test-request.
const REQUEST = {
  method: 'POST',
  targetUri: 'https://example.com/foo?param=Value&Pet=dog',
  headers: {
    Host: 'example.com',
    Date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'Content-Type': 'application/json',
    'Content-Digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    'Content-Length': '18',
  },
  body: '{"hello": "world"}',
};

// B.2.6, RFC 8792 line wrapping undone.
const EXPECTED_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
].join('\n');
const EXPECTED_INPUT = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
const EXPECTED_SIGNATURE = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';

const COMPONENTS = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];

test('B.2.6: the signature base of the parsed Signature-Input is the RFC text, byte for byte', () => {
  const member = parseDictionary(EXPECTED_INPUT).get('sig-b26');
  assert.ok(member && Array.isArray(member[0]));
  const params: SignatureParameters = {
    components: member[0].map(([name, parameters]) => ({ name: name as string, parameters })),
    parameters: member[1],
  };
  assert.equal(signatureBase(REQUEST, params), EXPECTED_BASE);
});

test('B.2.6: signing with test-key-ed25519 reproduces the RFC Signature-Input and Signature exactly', () => {
  const fields = createSignature({
    request: REQUEST,
    components: COMPONENTS,
    parameters: { created: 1618884473, keyid: 'test-key-ed25519' },
    privateKey: parsePrivateKeyPem(PRIVATE_PEM, 'test-key-ed25519'),
    label: 'sig-b26',
  });
  assert.equal(fields['signature-input'], EXPECTED_INPUT);
  // Ed25519 is deterministic, so the RFC's value is the only right answer.
  assert.equal(fields.signature, EXPECTED_SIGNATURE);
});

test('B.2.6: the RFC signature verifies over the RFC base with the public key, and not over a changed base', () => {
  const publicKey = parsePublicKeyPem(PUBLIC_PEM, 'test-key-ed25519.pub');
  const member = parseDictionary(EXPECTED_SIGNATURE).get('sig-b26');
  assert.ok(member && member[0] instanceof ArrayBuffer);
  const signature = new Uint8Array(member[0]);
  assert.equal(verify(null, Buffer.from(EXPECTED_BASE), publicKey, signature), true);
  assert.equal(verify(null, Buffer.from(EXPECTED_BASE.replace('POST', 'PUT')), publicKey, signature), false);
});

test('B.2.6: the API verifier refuses the RFC example: it covers neither @target-uri nor a body digest, and has no nonce or alg', async () => {
  const verifier = new RequestVerifier({
    lookupKey: (keyid) => (keyid === 'test-key-ed25519' ? { publicKey: parsePublicKeyPem(PUBLIC_PEM, 'pub') } : undefined),
    replayCache: new MemoryReplayCache(),
    now: () => 1618884473_000,
  });
  const result = await verifier.verify({ ...REQUEST, headers: { ...REQUEST.headers, 'Signature-Input': EXPECTED_INPUT, Signature: EXPECTED_SIGNATURE } });
  assert.equal(result.ok, false);
  assert.ok(!result.ok);
  assert.equal(result.code, 'components_missing');
  assert.equal(result.reason, 'signature sig-b26 does not cover @target-uri, content-digest, ;nonce, ;alg');
});
