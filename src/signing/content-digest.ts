/**
 * RFC 9530 `Content-Digest` with `sha-256`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { parseDictionary, serializeDictionary } from 'structured-headers';

/** The `Content-Digest` field value for `body`: `sha-256=:<base64>:`. */
export function contentDigest(body: Uint8Array): string {
  return serializeDictionary(new Map([['sha-256', [sha256(body), new Map()]]]));
}

function sha256(body: Uint8Array): Uint8Array {
  return createHash('sha256').update(body).digest();
}

/** Why a Content-Digest does not vouch for a body; `null` when it does. */
export function contentDigestProblem(fieldValue: string, body: Uint8Array): string | null {
  let dictionary;
  try {
    dictionary = parseDictionary(fieldValue);
  } catch {
    return 'Content-Digest is not a structured dictionary';
  }
  const member = dictionary.get('sha-256');
  // Why only sha-256: other algorithms a client lists are not checked, so they never stand in for it.
  if (member === undefined) return 'Content-Digest has no sha-256 member';
  const [value] = member;
  if (!(value instanceof ArrayBuffer)) return 'Content-Digest sha-256 member is not a byte sequence';
  const claimed = new Uint8Array(value);
  const actual = sha256(body);
  if (claimed.length !== actual.length || !timingSafeEqual(claimed, actual)) return 'body does not match its Content-Digest (sha-256)';
  return null;
}
