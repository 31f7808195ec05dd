/**
 * The seccomp denial reader (agent/airlock-seccomp-audit.c), built and verified like the agent:
 * the host's controller runs it for namespace sandboxes (src/sandbox/denials/watch.ts), a microvm
 * guest's init for the calls its own kernel refuses.
 */
import { fileURLToPath } from 'node:url';
import { ensureCBinary, HARDENED_CFLAGS, type BuildStamps, type CBinary } from '../../host/c-build.ts';

/** The helper's source. */
export const SECCOMP_AUDIT_SOURCE = fileURLToPath(new URL('../../../agent/airlock-seccomp-audit.c', import.meta.url));

/**
 * Builds the helper if needed (`${stateDir}/seccomp-audit/<key>/airlock-seccomp-audit`, checksum-verified;
 * `verified`: builds a long-lived caller already checked, re-hashed only when the file changed).
 */
export function ensureSeccompAuditHelper(stateDir: string, verified?: BuildStamps): Promise<CBinary> {
  return ensureCBinary({
    stateDir, kind: 'seccomp-audit', source: SECCOMP_AUDIT_SOURCE, binaryName: 'airlock-seccomp-audit',
    cflags: HARDENED_CFLAGS, control: 'seccomp-audit', purpose: 'the seccomp denial reader',
  }, verified);
}
