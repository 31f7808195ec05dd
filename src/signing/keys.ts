/**
 * Ed25519 keys for signed requests: generation, PEM encoding and the key id (RFC 7638 thumbprint).
 * Node-only (node:crypto).
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/** A freshly generated Ed25519 key pair. */
export interface Ed25519KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Generates an Ed25519 key pair. */
export function generateEd25519KeyPair(): Ed25519KeyPair {
  return generateKeyPairSync('ed25519');
}

/** Throws unless `key` is an Ed25519 key of the given type; `what` names it in the message. */
export function assertEd25519(key: KeyObject, type: 'private' | 'public', what: string): void {
  // Why: a PEM of another algorithm (RSA, X25519) must never be accepted as a signing identity.
  if (key.type !== type || key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`${what} is not an Ed25519 ${type} key (found ${key.asymmetricKeyType ?? key.type} ${key.type})`);
  }
}

/** PKCS#8 PEM of an Ed25519 private key. */
export function privateKeyPem(privateKey: KeyObject): string {
  assertEd25519(privateKey, 'private', 'the key');
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** SPKI PEM of an Ed25519 public key. */
export function publicKeyPem(publicKey: KeyObject): string {
  assertEd25519(publicKey, 'public', 'the key');
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** Parses a PKCS#8 PEM Ed25519 private key; `what` names its source in errors. */
export function parsePrivateKeyPem(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`${what} is not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  assertEd25519(key, 'private', what);
  return key;
}

/** Parses an SPKI PEM Ed25519 public key; `what` names its source in errors. */
export function parsePublicKeyPem(pem: string, what: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new Error(`${what} is not a PEM public key: ${(err as Error).message}`, { cause: err });
  }
  // Why: createPublicKey also accepts a private key PEM and derives its public half; a .pub file
  // holding a private key is a leak to report, not to use silently.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw new Error(`${what} holds a private key, not a public key`);
  assertEd25519(key, 'public', what);
  return key;
}

/** The public half of an Ed25519 private key. */
export function publicKeyOf(privateKey: KeyObject): KeyObject {
  assertEd25519(privateKey, 'private', 'the key');
  return createPublicKey(privateKey);
}

/**
 * The key id: RFC 7638 JWK SHA-256 thumbprint of the public key, base64url without padding.
 * For OKP keys the required members are crv, kty and x, serialized in that (lexicographic) order.
 */
export function keyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? publicKeyOf(key) : key;
  assertEd25519(publicKey, 'public', 'the key');
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || jwk.kty !== 'OKP' || typeof jwk.x !== 'string') throw new Error('unexpected JWK export of an Ed25519 key');
  // Written out rather than JSON.stringify(object): the member order is the thumbprint's definition.
  const canonical = `{"crv":${JSON.stringify(jwk.crv)},"kty":${JSON.stringify(jwk.kty)},"x":${JSON.stringify(jwk.x)}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}
