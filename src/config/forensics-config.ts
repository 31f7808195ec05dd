/** Configuration of forensic capture (`forensics`): where bundles go, how long they stay, what happens after. */
import type { z as Zod } from 'zod';

/** Severities a violation may have, lowest first (the trigger compares against this order). */
export const FORENSIC_SEVERITIES = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const;

/** Forensics settings. */
export interface ForensicsConfig {
  /** Directory bundles are written to (0700). null: `forensics/` in the state directory. */
  dir: string | null;
  /** At most this many bundles are kept; the oldest are removed first. */
  maxBundles: number;
  /** Bundles older than this many days are removed. */
  maxAgeDays: number;
  /** What happens to the sandbox once the bundle is written. */
  after: 'kill' | 'resume';
  /** A violation at or above this severity captures a bundle on its own; null: on demand only. */
  triggerSeverity: (typeof FORENSIC_SEVERITIES)[number] | null;
  /** Bound on the memory dump, in MiB: of the sandbox's main process (namespace), of the guest's non-zero RAM (microvm). */
  memoryDumpMb: number;
  /** Bound on the scratch files copied into a bundle, in MiB (larger files are listed, not copied). */
  scratchCopyMb: number;
}

/** Default: keep 50 bundles for 30 days, kill after capture, on demand only. */
export const DEFAULT_FORENSICS_CONFIG: Readonly<ForensicsConfig> = Object.freeze({
  dir: null,
  maxBundles: 50,
  maxAgeDays: 30,
  after: 'kill',
  triggerSeverity: null,
  memoryDumpMb: 64,
  scratchCopyMb: 64,
});

/** The zod schema of `forensics`. */
export function forensicsSchema(z: typeof Zod) {
  return z
    .object({
      dir: z.string().regex(/^\/./, 'an absolute directory path').nullable().default(null).describe('Directory forensic bundles are written to. null: forensics/ in the state directory.'),
      maxBundles: z.number().int().min(1).max(100_000).default(DEFAULT_FORENSICS_CONFIG.maxBundles).describe('Most bundles kept; the oldest are removed first.'),
      maxAgeDays: z.number().int().min(1).max(3650).default(DEFAULT_FORENSICS_CONFIG.maxAgeDays).describe('Bundles older than this many days are removed.'),
      after: z.enum(['kill', 'resume']).default(DEFAULT_FORENSICS_CONFIG.after).describe('kill (default): the sandbox is ended once captured. resume: it is thawed and runs on.'),
      triggerSeverity: z.enum(FORENSIC_SEVERITIES).nullable().default(null).describe('A violation at or above this severity captures a bundle by itself. null (default): on demand only.'),
      // Why bounded: a dump of an arbitrary process could fill the controller's disk.
      memoryDumpMb: z.number().int().min(0).max(4096).default(DEFAULT_FORENSICS_CONFIG.memoryDumpMb).describe("Bound on the memory dump, MiB: of the main process (namespace), of the guest's non-zero RAM (microvm); 0: maps only."),
      scratchCopyMb: z.number().int().min(0).max(4096).default(DEFAULT_FORENSICS_CONFIG.scratchCopyMb).describe('Bound on scratch file contents copied into a bundle, MiB; the rest is listed with digests.'),
    })
    .strict()
    .default({ ...DEFAULT_FORENSICS_CONFIG });
}
