/**
 * RFC 8785 (JSON Canonicalization Scheme) serialization and the SHA-256 digest of it: what the
 * policy hash, action digests and approval decisions are computed over, so the same value gives
 * the same bytes on any host and in any language that implements the RFC.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** RFC 8785 canonical JSON of `value`; throws on what JSON can't carry (NaN, Infinity, a cycle, a bare undefined). */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('cannot canonicalize a value JSON has no form for');
  return text;
}

/** `sha256:<hex>` of the canonical JSON of `value`. */
export function canonicalDigest(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex')}`;
}
