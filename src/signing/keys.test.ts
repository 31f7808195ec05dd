import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { generateEd25519KeyPair, keyId, parsePrivateKeyPem, parsePublicKeyPem, privateKeyPem, publicKeyOf, publicKeyPem } from './keys.ts';

// RFC 8037 appendix A.1 key; A.3 gives its RFC 7638 thumbprint.
const RFC8037_JWK = { kty: 'OKP', crv: 'Ed25519', d: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
const RFC8037_KID = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k';

test('keyId is the RFC 8037 A.3 thumbprint for the A.1 key, from the private and from the public half', () => {
  const privateKey = createPrivateKey({ key: RFC8037_JWK, format: 'jwk' });
  assert.equal(keyId(privateKey), RFC8037_KID);
  assert.equal(keyId(publicKeyOf(privateKey)), RFC8037_KID);
  // And through the PEM files' encodings.
  assert.equal(keyId(parsePublicKeyPem(publicKeyPem(publicKeyOf(privateKey)), 'pub')), RFC8037_KID);
  assert.equal(keyId(parsePrivateKeyPem(privateKeyPem(privateKey), 'key')), RFC8037_KID);
});

test('generated keys are Ed25519, PEM round-trips keep the key id, and different keys have different ids', () => {
  const a = generateEd25519KeyPair();
  const b = generateEd25519KeyPair();
  assert.equal(a.privateKey.asymmetricKeyType, 'ed25519');
  assert.match(privateKeyPem(a.privateKey), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.match(publicKeyPem(a.publicKey), /^-----BEGIN PUBLIC KEY-----\n/);
  assert.equal(keyId(parsePrivateKeyPem(privateKeyPem(a.privateKey), 'k')), keyId(a.publicKey));
  assert.match(keyId(a.publicKey), /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(keyId(a.publicKey), keyId(b.publicKey));
});

test('keys of other algorithms, garbage, and a private key in a .pub file are refused with the source named', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  assert.throws(() => parsePrivateKeyPem(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'key.pem'), /key\.pem is not an Ed25519 private key/);
  assert.throws(() => parsePublicKeyPem(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'key.pub'), /key\.pub is not an Ed25519 public key/);
  assert.throws(() => keyId(ec.publicKey), /not an Ed25519 public key/);
  assert.throws(() => parsePrivateKeyPem('hello', 'x'), /x is not a PEM private key/);
  const ed = generateEd25519KeyPair();
  assert.throws(() => parsePublicKeyPem(privateKeyPem(ed.privateKey), 'id.pub'), /id\.pub holds a private key/);
});
