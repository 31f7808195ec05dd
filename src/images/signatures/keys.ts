/** Trusted image-signing keys: PEM public keys (ECDSA P-256 or Ed25519) and signatures over payloads. */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { TrustedImageKey } from '../../config/image-policy-config.ts';
import { ControlError } from '../../host/control-error.ts';

/** A trusted key, loaded. */
export interface LoadedKey {
  id: string;
  key: KeyObject;
}

/**
 * Checks a public key is one of the two kinds signatures are accepted from; returns it.
 * Why only these: RSA and other curves are outside what the policy promises to verify.
 */
export function checkSigningKeyType(key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType === 'ed25519') return key;
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return key;
  throw new ControlError('image_signature', `${what} is a ${key.asymmetricKeyType ?? 'unknown'} key; only ECDSA P-256 and Ed25519 are accepted`);
}

/** Loads a configured key (inline PEM or a file); throws naming the key when it can't be used. */
export async function loadTrustedKey(entry: TrustedImageKey): Promise<LoadedKey> {
  let pem: string;
  try {
    pem = entry.pem ?? (await readFile(entry.file ?? '', 'utf8'));
  } catch (err) {
    throw new ControlError('image_policy', `trusted key ${entry.id}: cannot read ${entry.file}: ${(err as Error).message}`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ControlError('image_policy', `trusted key ${entry.id}: not a PEM public key: ${(err as Error).message}`, { cause: err });
  }
  return { id: entry.id, key: checkSigningKeyType(key, `trusted key ${entry.id}`) };
}

/**
 * Whether `signature` is `key`'s signature over `payload`: ECDSA P-256 over SHA-256 (DER, as cosign
 * writes it) or Ed25519 (over the payload itself). Never throws for a bad signature: false.
 */
export function verifyPayloadSignature(key: KeyObject, payload: Buffer, signature: Buffer): boolean {
  try {
    if (key.asymmetricKeyType === 'ed25519') return verify(null, payload, key, signature);
    return verify('sha256', payload, { key, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
