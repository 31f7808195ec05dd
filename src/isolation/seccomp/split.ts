/**
 * How an allow-list profile sorts one architecture's syscall table, shared by both compilers:
 * which known calls run, which fail with the default EPERM, and which a rule answers on its own.
 */
import { syscallTable } from './arch.ts';
import type { Arch } from './arch.ts';
import type { SeccompProfile } from './profile.ts';
import type { SyscallName } from './syscalls.ts';

/** One architecture's table, split by what the profile does with each call. */
export interface TableSplit {
  /** Allowed calls (argument rules may still refuse some of their uses). */
  readonly allowed: readonly SyscallName[];
  /** Known calls that are neither allowed nor answered by an unconditional rule: EPERM. */
  readonly refused: readonly SyscallName[];
  /** Known calls an unconditional rule answers (with its own errno). */
  readonly answered: readonly SyscallName[];
}

/** Splits `arch`'s table; every name appears in exactly one list, in table order. */
export function splitTable(profile: SeccompProfile, arch: Arch): TableSplit {
  const allow = new Set<string>(profile.allow.map((a) => a.syscall));
  const answer = new Set<string>(profile.rules.filter((r) => r.when === undefined || r.when.length === 0).map((r) => r.syscall));
  const names = (Object.entries(syscallTable(arch)) as [SyscallName, number][]).sort((a, b) => a[1] - b[1]).map(([n]) => n);
  return {
    allowed: names.filter((n) => allow.has(n)),
    answered: names.filter((n) => answer.has(n)),
    refused: names.filter((n) => !allow.has(n) && !answer.has(n)),
  };
}
