/**
 * `airlock image sign`: a signature over a stored image's digest, in the simple-signing form cosign
 * uses, kept beside the image. It binds the store digest (what every start verifies the manifest
 * against), so it holds for built, imported and pulled images alike.
 */
import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AirlockConfig } from '../../config/config.ts';
import { ControlError } from '../../host/control-error.ts';
import { storePaths } from '../paths.ts';
import { resolveImage } from '../store.ts';
import { checkSigningKeyType } from './keys.ts';
import { buildPayload } from './payload.ts';
import { saveSignature } from './records.ts';

/** What `image sign` did. */
export interface SignResult {
  name: string;
  digest: string;
  /** `sha256:<hex>` of the public key's DER (SPKI): what to compare with the key given to the policy. */
  keyFingerprint: string;
  /** The record written. */
  file: string;
}

/** Signs `payload` with a private key of an accepted kind (ECDSA P-256: SHA-256, DER; Ed25519). */
export function signPayload(key: KeyObject, payload: Buffer): Buffer {
  return key.asymmetricKeyType === 'ed25519' ? sign(null, payload, key) : sign('sha256', payload, { key, dsaEncoding: 'der' });
}

/** `sha256:<hex>` of a public key's SubjectPublicKeyInfo. */
export function keyFingerprint(key: KeyObject): string {
  return `sha256:${createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/** Signs the stored image `name` with the PEM private key in `keyFile`; the key never leaves the file's reader. */
export async function signStoredImage(config: Pick<AirlockConfig, 'stateDir'>, name: string, keyFile: string): Promise<SignResult> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(keyFile));
  } catch (err) {
    throw new ControlError('image_signature', `--key ${keyFile}: not a readable PEM private key: ${(err as Error).message}`, { cause: err });
  }
  const pub = checkSigningKeyType(createPublicKey(key), `--key ${keyFile}`);
  const image = await resolveImage(config, name);
  const payload = buildPayload(image.name, image.digest);
  const file = await saveSignature(storePaths(config), image.digest, {
    format: 'airlock',
    payload: payload.toString('base64'),
    signature: signPayload(key, payload).toString('base64'),
    source: `airlock image sign --key ${keyFile}`,
  });
  return { name: image.name, digest: image.digest, keyFingerprint: keyFingerprint(pub), file };
}
