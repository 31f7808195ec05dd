/**
 * What of a request's parameters goes into a record: everything small as is; a long string (code,
 * stdin, file content) as its SHA-256 and length; environment values as digests only. Why: the log
 * must say exactly what ran (a digest is exact) without becoming a copy of every payload, and an
 * environment value may be a credential the caller passed.
 */
import { createHash } from 'node:crypto';

/** Longest string kept verbatim. */
export const MAX_VERBATIM = 512;

function digestOf(text: string): { sha256: string; bytes: number } {
  return { sha256: createHash('sha256').update(text, 'utf8').digest('hex'), bytes: Buffer.byteLength(text) };
}

/** A JSON-safe, bounded copy of `value` for a record. */
export function bounded(value: unknown, key = ''): unknown {
  if (typeof value === 'string') return value.length > MAX_VERBATIM ? digestOf(value) : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (value === null || typeof value === 'boolean') return value;
  if (Buffer.isBuffer(value)) return { sha256: createHash('sha256').update(value).digest('hex'), bytes: value.length };
  if (Array.isArray(value)) return value.map((v) => bounded(v));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || typeof v === 'function') continue;
      out[k] = (key === 'env' || key === 'environment') && typeof v === 'string' ? digestOf(v) : bounded(v, k);
    }
    return out;
  }
  // undefined, bigint, symbol: nothing JSON can carry.
  return null;
}
