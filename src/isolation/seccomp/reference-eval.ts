/**
 * Reference meanings, used only by tests: what a SeccompProfile says about one syscall, and
 * what an OCI `linux.seccomp` object does with it (libseccomp / runsc semantics, with
 * SCMP_ACT_TRACE failing with ENOSYS as it does when no tracer is attached). Both compilers are
 * checked against the first.
 */
import { syscallNumber } from './arch.ts';
import type { Arch } from './arch.ts';
import type { OciSeccomp } from './oci.ts';
import { ERRNO_VALUES } from './profile.ts';
import type { ArgCheck, SeccompProfile } from './profile.ts';

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
  return 'allow';
}

/** What an OCI runtime does with `spec` for syscall `nr` (libseccomp action precedence). */
export function ociVerdict(spec: OciSeccomp, arch: Arch, nr: number, args: readonly bigint[]): Verdict {
  let errno: number | undefined;
  let trace = false;
  for (const entry of spec.syscalls) {
    const named = entry.names.some((n) => syscallNumber(arch, n as Parameters<typeof syscallNumber>[1]) === nr);
    if (!named) continue;
    const all = (entry.args ?? []).every((a) => {
      const arg = BigInt.asUintN(64, args[a.index] ?? 0n);
      return (arg & BigInt(a.value)) === BigInt(a.valueTwo);
    });
    if (!all) continue;
    if (entry.action === 'SCMP_ACT_ERRNO') errno = entry.errnoRet ?? ERRNO_VALUES.EPERM;
    else trace = true;
  }
  // libseccomp: ERRNO outranks TRACE; TRACE without a tracer fails with ENOSYS.
  if (errno !== undefined) return { errno };
  return trace ? { errno: ERRNO_VALUES.ENOSYS } : 'allow';
}
