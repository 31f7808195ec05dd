/**
 * The policy hash: `sha256:<hex>` of the RFC 8785 (JCS) canonical JSON of a policy document, so the
 * same document hashes the same on any host and in any language that implements the RFC. A request
 * can pin the hash it expects; reports carry it so every result says which policy produced it.
 */
import { canonicalDigest } from '../signing/canonical-json.ts';

/** `sha256:<hex>` of the canonical form of `document`. */
export function policyHash(document: Readonly<Record<string, unknown>>): string {
  return canonicalDigest(document);
}
