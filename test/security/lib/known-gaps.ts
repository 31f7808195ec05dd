/**
 * Cases that run, and are expected to fail, on a runtime because of a documented limitation of the
 * engine this host has (not of the harness). They are reported as TODO with the reason — never as
 * passed — and the assertion stays as strict as the specification.
 */
import type { TestRuntime } from './runtime.ts';

const OLD_RUNSC = "Debian's runsc 20221219 (ptrace platform)";

/** Reason per runtime, keyed by case id. */
export const KNOWN_GAPS: Record<string, Partial<Record<TestRuntime, string>>> = {
  T2: { gvisor: `${OLD_RUNSC} does not implement mount_setattr: it answers ENOSYS, not EPERM (the call is refused either way)` },
  T5: { gvisor: `${OLD_RUNSC} runs int 0x80 through the 64-bit syscall table, so an i386 call is neither killed nor denied as such (it is still filtered as a 64-bit call)` },
  T19: { gvisor: `${OLD_RUNSC} answers EACCES, not EROFS, for writes to the read-only root (the write is refused)` },
  T20host: { gvisor: `${OLD_RUNSC} keeps the sentry in the host pid and cgroup namespaces on the ptrace platform` },
  fdflood: { gvisor: `descriptors live in the gVisor sentry, invisible to the host: RLIMIT_NOFILE holds but open_files_limit is not reported` },
};

/** The TODO reason for `caseId` on `runtime`, if it is a known gap there. */
export function knownGap(caseId: string, runtime: TestRuntime): string | undefined {
  return KNOWN_GAPS[caseId]?.[runtime];
}
