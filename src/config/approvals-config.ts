/** Configuration of signed approvals (`approvals`): how long a pending approval waits for a decision. */
import type { z as Zod } from 'zod';

/** Approval settings. */
export interface ApprovalsConfig {
  /** Lifetime of a pending approval, seconds; an approver's decision must come (and expire) within it. */
  ttlSeconds: number;
}

/** Default: 15 minutes. */
export const DEFAULT_APPROVALS_CONFIG: Readonly<ApprovalsConfig> = Object.freeze({ ttlSeconds: 900 });

/** The zod schema of `approvals`. */
export function approvalsSchema(z: typeof Zod) {
  return z
    .object({
      ttlSeconds: z
        .number()
        .int()
        // Why bounded: an approval is consent for one request now; one kept for days outlives the context it was given in.
        .min(10)
        .max(86_400)
        .default(DEFAULT_APPROVALS_CONFIG.ttlSeconds)
        .describe('Lifetime of a pending approval, seconds (10 to 86400; default 900). Expiry is computed from the stored creation time, so it holds across restarts.'),
    })
    .strict()
    .default({ ttlSeconds: DEFAULT_APPROVALS_CONFIG.ttlSeconds });
}
