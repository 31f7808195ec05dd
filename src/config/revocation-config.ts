/** Configuration of revocation (`revocation`): automatic revocation and the signed lists this controller accepts. */
import type { z as Zod } from 'zod';

/** Revocation settings. */
export interface RevocationConfig {
  /** Revoke an agent automatically after `violations` HIGH or CRITICAL violations within `windowSeconds`; 0 violations: never. */
  autoRevoke: { violations: number; windowSeconds: number };
  /** SPKI PEM files of the controllers whose signed revocation lists may be imported. */
  trustedKeys: string[];
  /** A signed list issued longer ago than this is refused as stale, seconds. */
  maxListAgeSeconds: number;
}

/** Default: no automatic revocation, no list trusted, lists valid for a day. */
export const DEFAULT_REVOCATION_CONFIG: Readonly<RevocationConfig> = Object.freeze({
  autoRevoke: Object.freeze({ violations: 0, windowSeconds: 300 }),
  trustedKeys: Object.freeze([]) as unknown as string[],
  maxListAgeSeconds: 86_400,
});

/** The zod schema of `revocation`. */
export function revocationSchema(z: typeof Zod) {
  const d = DEFAULT_REVOCATION_CONFIG;
  return z
    .object({
      autoRevoke: z
        .object({
          violations: z.number().int().min(0).max(1000).default(d.autoRevoke.violations).describe('HIGH or CRITICAL violations of one agent that revoke it (0: never).'),
          windowSeconds: z.number().int().min(1).max(86_400 * 7).default(d.autoRevoke.windowSeconds).describe('The window the violations are counted in, seconds.'),
        })
        .strict()
        .default({ violations: d.autoRevoke.violations, windowSeconds: d.autoRevoke.windowSeconds }),
      trustedKeys: z.array(z.string().regex(/^\//, 'an absolute path')).default([]).describe('Public key files (SPKI PEM) of controllers whose signed revocation lists `airlock revocations import` accepts.'),
      // Why bounded: a list kept for weeks could be replayed to a controller that never saw a newer one.
      maxListAgeSeconds: z.number().int().min(60).max(86_400 * 30).default(d.maxListAgeSeconds).describe('Signed lists issued longer ago than this are refused as stale, seconds.'),
    })
    .strict()
    .default({ autoRevoke: { ...d.autoRevoke }, trustedKeys: [], maxListAgeSeconds: d.maxListAgeSeconds });
}
