/** Configuration of what the controller does about a violation (`violations`), by severity. */
import type { z as Zod } from 'zod';

/** What the controller does about a violation: record it only, kill the sandbox, or kill it and revoke its agent. */
export type ViolationResponseSetting = 'record' | 'kill' | 'kill_and_revoke';

/** Violation settings. */
export interface ViolationsConfig {
  /** The response to a violation of each severity (seccomp denials and other escape attempts). */
  response: Readonly<Record<'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL', ViolationResponseSetting>>;
  /**
   * `namespace` sandboxes: watch writes to /proc/sys, /sys, /dev and /boot and connects to container
   * runtime sockets (refused by the mounts, not by seccomp) through the agent's seccomp
   * user-notification supervisor, and report them as violations. Absent: on.
   */
  watchWrites?: boolean;
}

/**
 * Default: record everything; kill on CRITICAL (namespace or mount escape attempts). Why not
 * revoke by default: a denied call is already blocked, and revoking an agent is an operator's call.
 */
export const DEFAULT_VIOLATIONS_CONFIG: Readonly<Required<ViolationsConfig>> = Object.freeze({
  response: Object.freeze({ LOW: 'record', MEDIUM: 'record', HIGH: 'record', CRITICAL: 'kill' }),
  watchWrites: true,
});

/** The zod schema of `violations`. */
export function violationsSchema(z: typeof Zod) {
  const response = z.enum(['record', 'kill', 'kill_and_revoke']);
  const d = DEFAULT_VIOLATIONS_CONFIG.response;
  return z
    .object({
      response: z
        .object({
          LOW: response.default(d.LOW),
          MEDIUM: response.default(d.MEDIUM),
          HIGH: response.default(d.HIGH),
          CRITICAL: response.default(d.CRITICAL),
        })
        .strict()
        // Why a floor: an escape attempt at CRITICAL that is only recorded leaves the attacker's process running.
        .refine((r) => r.CRITICAL !== 'record', 'CRITICAL violations must at least kill the sandbox (kill or kill_and_revoke)')
        .default({ ...d })
        .describe('The response per severity: record, kill (end the sandbox) or kill_and_revoke (also revoke its agent).'),
      watchWrites: z
        .boolean()
        .default(DEFAULT_VIOLATIONS_CONFIG.watchWrites)
        .describe('namespace: report writes to /proc/sys, /sys, /dev, /boot and runtime-socket probes (seccomp user notification, detection only).'),
    })
    .strict()
    .default({ response: { ...d }, watchWrites: DEFAULT_VIOLATIONS_CONFIG.watchWrites });
}
