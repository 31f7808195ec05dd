/** Configuration of the `microvm` runtime (`microvm`). */
import type { z as Zod } from 'zod';

/** microvm settings. */
export interface MicrovmConfig {
  /**
   * Start guests by restoring a snapshot of their shape (src/isolation/microvm/snapshot.ts) instead
   * of booting each one. Off: every guest boots cold and has a kernel address layout of its own.
   */
  snapshots: boolean;
}

/** Default: snapshots on (a cold boot under TCG takes seconds). */
export const DEFAULT_MICROVM_CONFIG: Readonly<MicrovmConfig> = Object.freeze({ snapshots: true });

/** The zod schema of `microvm`. */
export function microvmSchema(z: typeof Zod) {
  const d = DEFAULT_MICROVM_CONFIG;
  return z
    .object({
      snapshots: z.boolean().default(d.snapshots).describe('Start guests from a snapshot of their shape (false: every guest boots cold, with a kernel address layout of its own).'),
    })
    .strict()
    .default({ ...d });
}
