/**
 * Recognises the calls the sandbox kernel's seccomp filter refused, in its log. Pure.
 *
 * gVisor's Sentry enforces the OCI profile itself, so the host kernel never sees those calls and
 * its audit has no record of them. Nor does `--strace`: the Sentry checks the filter before the
 * syscall is dispatched, and only dispatched calls are traced (measured on runsc 20221219: an
 * EPERM'd `unshare` leaves no strace line). The one place it says so is a debug-level line,
 * `D1206 14:35:18.149853   18825 task_syscall.go:240] [   2:   2] Syscall 272: denied by seccomp`,
 * written for every SECCOMP_RET_ERRNO and SECCOMP_RET_TRAP verdict.
 */
import { hostArch, syscallTable } from '../seccomp/arch.ts';
import type { SandboxDenial } from '../driver.ts';

/** Cheap substring every such line contains; tested before the expression. */
export const DENIAL_MARK = ': denied by seccomp';

// Why anchored at both ends: a whole line of the sandbox kernel's own, never guest text inside one
// (a guest that forged lines could only report itself, but it must not be able to).
const DENIAL_RE = /^D\d{4} \d{2}:\d{2}:\d{2}\.\d+\s+\d+ task_syscall\.go:\d+\] \[\s*(\d+):\s*(\d+)\] Syscall (\d+): denied by seccomp$/;

/** Number → name for the host ABI (the sandbox kernel runs the host's), built by the caller. */
export function hostSyscallNames(arch = hostArch()): Map<number, string> {
  return new Map(Object.entries(syscallTable(arch)).map(([name, nr]) => [nr as number, name]));
}

/** The denial one log line reports; undefined for any other line. */
export function parseSeccompDenial(line: string, names: Map<number, string>): SandboxDenial | undefined {
  const m = DENIAL_RE.exec(line);
  if (m === null) return undefined;
  const syscallNr = Number(m[3]);
  return { syscall: names.get(syscallNr) ?? `syscall_${syscallNr}`, syscallNr, pid: Number(m[2]) };
}
