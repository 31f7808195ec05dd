/** Configuration of the `microvm` runtime (`microvm`). */
import type { z as Zod } from 'zod';

/** microvm settings. */
export interface MicrovmConfig {
  /**
   * Start guests by restoring a snapshot of their shape (src/isolation/microvm/snapshot.ts) instead
   * of booting each one. Off: every guest boots cold and has a kernel address layout of its own.
   */
  snapshots: boolean;
  /** Most snapshots kept (one per shape, ~100 MB each); the least recently used goes first. */
  keepSnapshots: number;
}

/** Default: snapshots on (a cold boot under TCG takes seconds). */
export const DEFAULT_MICROVM_CONFIG: Readonly<MicrovmConfig> = Object.freeze({ snapshots: true, keepSnapshots: 8 });

/** The zod schema of `microvm`. */
export function microvmSchema(z: typeof Zod) {
  const d = DEFAULT_MICROVM_CONFIG;
  return z
    .object({
      snapshots: z.boolean().default(d.snapshots).describe('Start guests from a snapshot of their shape (false: every guest boots cold, with a kernel address layout of its own).'),
      // Why bounded: each distinct memory limit a caller asks for is a shape of its own, and a snapshot is ~100 MB of disk.
      keepSnapshots: z.number().int().min(1).max(1000).default(d.keepSnapshots).describe('Most snapshots kept, one per guest shape (~100 MB each); the least recently used is removed first.'),
    })
    .strict()
    .default({ ...d });
}
