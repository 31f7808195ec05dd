/**
 * The simple-signing payload cosign signs (and `airlock image sign` signs in the same form): a
 * small JSON document whose `critical` part binds a signature to one manifest digest.
 */
import { ControlError } from '../../host/control-error.ts';
import { isDigest } from '../manifest.ts';

/** The `critical.type` every cosign image signature carries. */
export const COSIGN_SIGNATURE_TYPE = 'cosign container image signature';

/** What a verified payload says. */
export interface SignedClaim {
  /** `sha256:<hex>` the signature is bound to. */
  digest: string;
  /** `critical.identity.docker-reference`: the repository the signer named (informational). */
  reference: string;
}

/** The payload bytes for a digest (what `image sign` signs; the form cosign writes). */
export function buildPayload(reference: string, digest: string, optional: Record<string, string> | null = null): Buffer {
  if (!isDigest(digest)) throw new ControlError('image_signature', `not a sha256 digest: ${digest}`);
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { 'docker-reference': reference }, image: { 'docker-manifest-digest': digest }, type: COSIGN_SIGNATURE_TYPE },
      optional,
    }),
  );
}

/**
 * Reads a payload's claim; throws naming what is wrong. Call only on a payload whose signature
 * verified: before that its contents are an attacker's.
 */
export function parsePayload(bytes: Buffer): SignedClaim {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ControlError('image_signature', 'signature payload is not JSON');
  }
  const critical = (doc as { critical?: { identity?: { 'docker-reference'?: unknown }; image?: { 'docker-manifest-digest'?: unknown }; type?: unknown } } | null)?.critical;
  // Why the type: a signature made for another purpose with the same key must not vouch for an image.
  if (critical?.type !== COSIGN_SIGNATURE_TYPE) throw new ControlError('image_signature', `signature payload type is not "${COSIGN_SIGNATURE_TYPE}"`);
  const digest = critical.image?.['docker-manifest-digest'];
  if (typeof digest !== 'string' || !isDigest(digest)) throw new ControlError('image_signature', 'signature payload names no sha256 manifest digest');
  const reference = critical.identity?.['docker-reference'];
  return { digest, reference: typeof reference === 'string' ? reference : '' };
}
