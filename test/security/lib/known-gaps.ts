/**
 * Documented limitations of the engine this host has (not of the harness), each keyed by the
 * narrowest thing it concerns:
 *
 * - `'<case>:<assertion>'` (preferred): one assertion of a case, checked with `gapAware` of
 *   suite.ts. Every other assertion of the case stays strict and still runs; the gap's assertion
 *   is reported as a TODO subtest with the reason.
 * - `'<case>'`: a whole case, through the `knownGap` option of `runtimeCase`. Use only when the
 *   case has a single assertion.
 *
 * Either way the assertion is as strict as the specification, a gap is never reported as passed,
 * and a gap that no longer reproduces fails the case loudly (so its entry gets removed).
 */
import type { SuiteRuntime } from './runtime.ts';

const OLD_RUNSC = "Debian's runsc 20221219 (ptrace platform)";

/** Reason per runtime, keyed by `case:assertion` (or by case, for single-assertion cases). */
export const KNOWN_GAPS: Record<string, Partial<Record<SuiteRuntime, string>>> = {
  'T2:mount_setattr': { gvisor: `${OLD_RUNSC} does not implement mount_setattr: it answers ENOSYS, not EPERM (the call is refused either way)` },
  'T2:memfd_secret': { gvisor: `${OLD_RUNSC} does not know memfd_secret: the OCI entry naming it is skipped and the call answers ENOSYS, not EPERM (refused either way)` },
  'T2:process_madvise': { gvisor: `${OLD_RUNSC} does not know process_madvise: the OCI entry naming it is skipped and the call answers ENOSYS, not EPERM (refused either way)` },
  'T2:statmount': { gvisor: `${OLD_RUNSC} does not know statmount: the OCI entry naming it is skipped and the call answers ENOSYS, not EPERM (refused either way)` },
  'T2:listmount': { gvisor: `${OLD_RUNSC} does not know listmount: the OCI entry naming it is skipped and the call answers ENOSYS, not EPERM (refused either way)` },
  'T5:i386_int80': { gvisor: `${OLD_RUNSC} runs int 0x80 through the 64-bit syscall table, so an i386 call is neither killed nor denied as such (it is still filtered as a 64-bit call)` },
  'T5:i386_int80_confusion': { gvisor: `${OLD_RUNSC} runs int 0x80 through the 64-bit syscall table, so an i386 call is neither killed nor denied as such (it is still filtered as a 64-bit call)` },
  'T5:x32_syscall': { gvisor: `${OLD_RUNSC} has no x32 syscall table: it answers ENOSYS before the OCI filter runs, so the call is refused by the missing ABI, not by the filter` },
  'T19:erofs': { gvisor: `${OLD_RUNSC} answers EACCES, not EROFS, for writes to the read-only root (the write is refused)` },
  'T20host:pid': { gvisor: `${OLD_RUNSC} keeps the sentry in the host pid namespace: runsc starts the sandbox in a new pid namespace only on platforms other than ptrace (T20 is not met on gVisor here)` },
  'T20host:cgroup': { gvisor: `${OLD_RUNSC} never starts the sentry in a new cgroup namespace (T20 is not met on gVisor here)` },
  'T20host:user': {
    microvm:
      "QEMU runs the guest in the host's user namespace, as the sandbox's leased uid with no capabilities, no_new_privs and QEMU's seccomp sandbox (the jailer model): a user namespace of its own would be a second one the kernel must get right, and the sandbox's code runs in the guest's kernel, not in QEMU",
  },
  'T25:late_socket': {
    namespace:
      'connect() to a pathname unix socket is not controlled: kernels before Linux 7.1 have no control for it (Landlock added LANDLOCK_ACCESS_FS_RESOLVE_UNIX in ABI 9, not applied yet), so a socket a host service creates inside a granted directory after start is reachable; sockets present at start are refused',
  },
  'T10host:mountinfo-paths': { namespace: 'a bind mount shows its source\'s path inside the host filesystem as its root in /proc/<pid>/mountinfo (image rootfs, agent and mask directories, grant sources); no bind can hide it, only an image on a filesystem of its own could' },
  'T10host:mounts-uid': { namespace: 'the kernel prints a tmpfs owner (uid=/gid=) in the initial user namespace\'s ids, so the tmpfs mounts of /dev, /dev/shm, /run and /tmp show the sandbox\'s host uid' },
  'T21:fuse-absent': { gvisor: `${OLD_RUNSC} always creates /dev/fuse in its devtmpfs (its -fuse flag is a no-op) and the spec can't remove a name there: an unopenable mode-0 file hides the device` },
  'T26:fchmodat2': { gvisor: `${OLD_RUNSC} does not know fchmodat2 (Linux 6.6): the OCI entries naming it are skipped and the call answers ENOSYS, not EPERM (refused either way; glibc then falls back to fchmodat, whose mode is checked)` },
  'fdflood:reason': { gvisor: `descriptors live in the gVisor sentry, invisible to the host: RLIMIT_NOFILE holds but open_files_limit is not reported` },
};

/** The reason `id` (`case:assertion` or `case`) is a known gap on `runtime`, if it is one there. */
export function knownGap(id: string, runtime: SuiteRuntime): string | undefined {
  return KNOWN_GAPS[id]?.[runtime];
}
