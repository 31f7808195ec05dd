/**
 * Why a signed request was refused. Each reason has its own code so clients and audit can tell them apart.
 */

/** Every refusal the verifier can return. */
export const SIGNATURE_REFUSAL_CODES = [
  /** No Signature / Signature-Input header. */
  'signature_missing',
  /** Headers that do not parse, an unsupported algorithm or component, a badly typed parameter. */
  'signature_malformed',
  /** The keyid names no registered (or a revoked) key. */
  'key_unknown',
  /** The body does not match its Content-Digest. */
  'digest_mismatch',
  /** `created` is outside the allowed clock skew, or `expires` has passed. */
  'signature_stale',
  /** The nonce was already used within the window. */
  'nonce_replayed',
  /** The replay cache cannot remember another nonce; refusing is the only safe answer. */
  'replay_cache_full',
  /** The signature does not cover a required component or parameter. */
  'components_missing',
  /** The signature does not verify over the request as received. */
  'signature_invalid',
] as const;

/** One of {@link SIGNATURE_REFUSAL_CODES}. */
export type SignatureRefusalCode = (typeof SIGNATURE_REFUSAL_CODES)[number];

/** A refusal: its code and a reason fit to return to the caller (it never quotes the signature). */
export interface SignatureRefusal {
  readonly ok: false;
  readonly code: SignatureRefusalCode;
  readonly reason: string;
}

/** Builds a {@link SignatureRefusal}. */
export function refuse(code: SignatureRefusalCode, reason: string): SignatureRefusal {
  return { ok: false, code, reason };
}
