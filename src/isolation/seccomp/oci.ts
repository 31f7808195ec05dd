/**
 * Compiles a SeccompProfile into the OCI runtime-spec `linux.seccomp` object, for
 * `runsc --oci-seccomp` (and any OCI runtime). The entries, in order: argument refusals of
 * allowed calls, unconditional answers (ENOSYS), every other known call of the table (EPERM),
 * then the allow list; the default action (SCMP_ACT_TRACE, ENOSYS without a tracer) answers
 * numbers the table does not know, as the BPF form does. Refusals come before the allow entry
 * and outrank it under both readings of an OCI profile: runsc takes the first matching entry,
 * libseccomp the highest-precedence action (ERRNO > TRACE > ALLOW).
 *
 * What the installed runsc (release 20221219) does with it, as checked against a real bundle:
 * - `errnoRet` is ignored: every SCMP_ACT_ERRNO answers EPERM. Compensation: ENOSYS answers are
 *   emitted as SCMP_ACT_TRACE, which fails with ENOSYS when no tracer is attached (ptrace itself
 *   is refused, so none can attach from inside). With EPERM instead, glibc would not fall back
 *   from clone3 to clone and thread creation would fail. EPERM entries still carry
 *   `errnoRet: 1` for runtimes that read it.
 * - SCMP_CMP_MASKED_EQ works and ignores the high word under a 32-bit mask; several args in one
 *   entry are ANDed; several entries for one syscall are ORed; ERRNO, TRACE and ALLOW mix freely.
 * - Names missing from its syscall table (calls newer than the release) are skipped with a
 *   warning; its Sentry does not implement them either, and the default answers ENOSYS.
 * - Only one comparison per argument index per entry is honoured (libseccomp refuses more), so
 *   every check is lowered to one SCMP_CMP_MASKED_EQ per argument (`masked-dnf.ts`); plain
 *   SCMP_CMP_EQ is never used because it compares all 64 bits (CVE-2019-10063).
 */
import { syscallNumber } from './arch.ts';
import type { Arch } from './arch.ts';
import { toTerms } from './masked-dnf.ts';
import { ERRNO_VALUES } from './profile.ts';
import type { SeccompProfile, SyscallRule } from './profile.ts';
import { splitTable } from './split.ts';
import { validateProfile } from './validate.ts';

/** An OCI seccomp architecture name. */
export type OciArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_AARCH64';

/** An OCI argument comparison; this compiler emits only SCMP_CMP_MASKED_EQ. */
export interface OciSeccompArg {
  readonly index: number;
  /** For SCMP_CMP_MASKED_EQ: the mask. */
  readonly value: number;
  /** For SCMP_CMP_MASKED_EQ: the value the masked argument must equal. */
  readonly valueTwo: number;
  readonly op: 'SCMP_CMP_MASKED_EQ';
}

/** One `linux.seccomp.syscalls[]` entry: the action applies when every arg comparison holds. */
export interface OciSeccompSyscall {
  readonly names: string[];
  readonly action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW';
  readonly errnoRet?: number;
  readonly args?: OciSeccompArg[];
}

/** The OCI runtime-spec `linux.seccomp` object. */
export interface OciSeccomp {
  /** Answers syscalls no entry names: ENOSYS, as a kernel without them would. */
  readonly defaultAction: 'SCMP_ACT_TRACE';
  readonly architectures: OciArch[];
  readonly syscalls: OciSeccompSyscall[];
}

/** Compiles `profile` into the OCI `linux.seccomp` object for `arch`. */
export function toOciSeccomp(profile: SeccompProfile, arch: Arch): OciSeccomp {
  validateProfile(profile);
  // Why: only the native ABI is listed; runtimes then kill or refuse every other ABI (i386, x32, arm32).
  const architectures: OciArch[] = [arch === 'x86_64' ? 'SCMP_ARCH_X86_64' : 'SCMP_ARCH_AARCH64'];
  const unconditional = new Map<string, OciSeccompSyscall>();
  const conditional: OciSeccompSyscall[] = [];
  for (const rule of profile.rules) {
    // Why: a name the architecture lacks would be an unknown name to the runtime; the call cannot happen.
    if (syscallNumber(arch, rule.syscall) === undefined) continue;
    const base = action(rule);
    if (rule.when === undefined || rule.when.length === 0) {
      const key = `${base.action}:${base.errnoRet ?? ''}`;
      const entry = unconditional.get(key) ?? { ...base, names: [] };
      entry.names.push(rule.syscall);
      unconditional.set(key, entry);
      continue;
    }
    for (const term of toTerms(rule.when)) {
      conditional.push({
        ...base,
        names: [rule.syscall],
        args: term.map((a) => ({ index: a.arg, value: a.mask, valueTwo: a.value, op: 'SCMP_CMP_MASKED_EQ' })),
      });
    }
  }
  const split = splitTable(profile, arch);
  const refused: OciSeccompSyscall = { action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO_VALUES.EPERM, names: [...split.refused] };
  const allowed: OciSeccompSyscall = { action: 'SCMP_ACT_ALLOW', names: [...split.allowed] };
  // Why this order: runsc takes the first matching entry, so refusals must precede the allow entry.
  return { defaultAction: 'SCMP_ACT_TRACE', architectures, syscalls: [...conditional, ...unconditional.values(), refused, allowed] };
}

/** The OCI action (and errnoRet) of a rule, before names and args are added. */
function action(rule: SyscallRule): Pick<OciSeccompSyscall, 'action' | 'errnoRet'> {
  // Why: old runsc ignores errnoRet; SCMP_ACT_TRACE without a tracer is the portable way to get ENOSYS.
  if (rule.errno === 'ENOSYS') return { action: 'SCMP_ACT_TRACE' };
  return { action: 'SCMP_ACT_ERRNO', errnoRet: ERRNO_VALUES[rule.errno] };
}
