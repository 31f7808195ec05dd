/**
 * The policy hash: SHA-256 over the active policy bundle, i.e. everything that decides what a
 * sandbox may do (seccomp profile, limit defaults and maxima, image pin). A request can pin the hash
 * it expects; reports carry it so every result says which policy produced it.
 */
import { createHash } from 'node:crypto';

/** Deterministic JSON: object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** `sha256:<hex>` of the canonical form of the policy bundle. */
export function policyHash(bundle: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(bundle)).digest('hex')}`;
}
