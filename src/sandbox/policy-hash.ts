/**
 * The policy hash: `sha256:<hex>` of the RFC 8785 (JCS) canonical JSON of a policy document, so the
 * same document hashes the same on any host and in any language that implements the RFC. A request
 * can pin the hash it expects; reports carry it so every result says which policy produced it.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 canonical JSON of `value`; throws on what JSON can't carry (NaN, Infinity, a cycle, a bare undefined). */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('policy document has no JSON form');
  return text;
}

/** `sha256:<hex>` of the canonical form of `document`. */
export function policyHash(document: Readonly<Record<string, unknown>>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(document)).digest('hex')}`;
}
