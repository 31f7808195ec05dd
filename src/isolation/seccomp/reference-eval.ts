/**
 * Reference meanings, used only by tests: what a SeccompProfile says about one syscall, and
 * what an OCI `linux.seccomp` object does with it under runsc's reading (first matching entry)
 * and libseccomp's (highest-precedence action), with SCMP_ACT_TRACE failing with ENOSYS as it does
 * when no tracer is attached. Both compilers are checked against the first.
 */
import { syscallNumber, syscallTable } from './arch.ts';
import type { Arch } from './arch.ts';
import type { OciSeccomp } from './oci.ts';
import { ERRNO_VALUES } from './profile.ts';
import type { ArgCheck, SeccompProfile } from './profile.ts';
import type { SyscallName } from './syscalls.ts';

/** A verdict: allowed, or failed with an errno. */
export type Verdict = 'allow' | { readonly errno: number };

/** Low 32 bits of a 64-bit argument, as the kernel sees an int argument. */
function low32(v: bigint): number {
  return Number(BigInt.asUintN(32, v));
}

/** Whether `check` holds for `args`. */
function holds(check: ArgCheck, args: readonly bigint[]): boolean {
  const v = low32(args[check.arg] ?? 0n);
  switch (check.op) {
    case 'eq':
      return v === check.value >>> 0;
    case 'maskedEq':
      return (v & check.mask) >>> 0 === check.value >>> 0;
    case 'anyBitSet':
      return (v & check.mask) >>> 0 !== 0;
    case 'notIn':
      return !check.values.some((x) => x >>> 0 === v);
  }
}

/** What `profile` decides for syscall number `nr` on `arch` (native ABI only). */
export function profileVerdict(profile: SeccompProfile, arch: Arch, nr: number, args: readonly bigint[]): Verdict {
  for (const rule of profile.rules) {
    if (syscallNumber(arch, rule.syscall) !== nr) continue;
    if ((rule.when ?? []).every((c) => holds(c, args))) return { errno: ERRNO_VALUES[rule.errno] };
  }
  if (profile.allow.some((a) => syscallNumber(arch, a.syscall) === nr)) return 'allow';
  const known = Object.values(syscallTable(arch)).includes(nr);
  return { errno: known ? ERRNO_VALUES.EPERM : ERRNO_VALUES.ENOSYS };
}

/** The entries of `spec` that name `nr` and whose argument comparisons all hold. */
function matching(spec: OciSeccomp, arch: Arch, nr: number, args: readonly bigint[]): OciSeccomp['syscalls'] {
  return spec.syscalls.filter((entry) => {
    const named = entry.names.some((n) => syscallNumber(arch, n as SyscallName) === nr);
    return named && (entry.args ?? []).every((a) => {
      const arg = BigInt.asUintN(64, args[a.index] ?? 0n);
      return (arg & BigInt(a.value)) === BigInt(a.valueTwo);
    });
  });
}

/** The verdict of one OCI action; SCMP_ACT_TRACE without a tracer fails with ENOSYS. */
function actionVerdict(entry: Pick<OciSeccomp['syscalls'][number], 'action' | 'errnoRet'>): Verdict {
  if (entry.action === 'SCMP_ACT_ALLOW') return 'allow';
  if (entry.action === 'SCMP_ACT_TRACE') return { errno: ERRNO_VALUES.ENOSYS };
  return { errno: entry.errnoRet ?? ERRNO_VALUES.EPERM };
}

/** What runsc does with `spec` for syscall `nr`: the first matching entry decides. */
export function ociVerdict(spec: OciSeccomp, arch: Arch, nr: number, args: readonly bigint[]): Verdict {
  const first = matching(spec, arch, nr, args)[0];
  return actionVerdict(first ?? { action: spec.defaultAction });
}

/** What libseccomp (runc) does with `spec`: the matching action of highest precedence decides. */
export function libseccompVerdict(spec: OciSeccomp, arch: Arch, nr: number, args: readonly bigint[]): Verdict {
  const rank = { SCMP_ACT_ERRNO: 3, SCMP_ACT_TRACE: 2, SCMP_ACT_ALLOW: 1 } as const;
  const best = matching(spec, arch, nr, args).sort((a, b) => rank[b.action] - rank[a.action])[0];
  return actionVerdict(best ?? { action: spec.defaultAction });
}
