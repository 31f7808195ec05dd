/**
 * The architectures the seccomp filter supports, their audit identifiers and syscall tables.
 */
import { ControlError } from '../../host/control-error.ts';
import { AARCH64_SYSCALLS, X86_64_SYSCALLS } from './syscalls.ts';
import type { SyscallName } from './syscalls.ts';

/** A supported CPU architecture, in kernel spelling. */
export type Arch = 'x86_64' | 'aarch64';

/** Every supported architecture. */
export const ARCHES: readonly Arch[] = ['x86_64', 'aarch64'];

/** AUDIT_ARCH_X86_64 (EM_X86_64 | 64-bit | little-endian). */
export const AUDIT_ARCH_X86_64 = 0xc000003e;
/** AUDIT_ARCH_AARCH64 (EM_AARCH64 | 64-bit | little-endian). */
export const AUDIT_ARCH_AARCH64 = 0xc00000b7;
/** AUDIT_ARCH_I386: what an `int 0x80` syscall from a 64-bit process reports. */
export const AUDIT_ARCH_I386 = 0x40000003;
/** AUDIT_ARCH_ARM: 32-bit compat syscalls on aarch64. */
export const AUDIT_ARCH_ARM = 0x40000028;
/** Bit 30 of the syscall number marks the x32 ABI on x86_64. */
export const X32_SYSCALL_BIT = 0x40000000;

/** The `seccomp_data.arch` value of native syscalls on `arch`. */
export function auditArch(arch: Arch): number {
  return arch === 'x86_64' ? AUDIT_ARCH_X86_64 : AUDIT_ARCH_AARCH64;
}

/** Every syscall of `arch`'s table, by name. */
export function syscallTable(arch: Arch): Readonly<Partial<Record<SyscallName, number>>> {
  return arch === 'x86_64' ? X86_64_SYSCALLS : AARCH64_SYSCALLS;
}

/** The syscall number of `name` on `arch`, or undefined when that architecture lacks it. */
export function syscallNumber(arch: Arch, name: SyscallName): number | undefined {
  return arch === 'x86_64' ? X86_64_SYSCALLS[name] : AARCH64_SYSCALLS[name];
}

/**
 * The architecture of this Node process. Throws a `seccomp` ControlError elsewhere: without a
 * syscall table the filter cannot be built, and a sandbox never starts without its filter.
 */
export function hostArch(nodeArch: string = process.arch): Arch {
  if (nodeArch === 'x64') return 'x86_64';
  if (nodeArch === 'arm64') return 'aarch64';
  throw new ControlError('seccomp', `no seccomp filter for CPU architecture "${nodeArch}" (supported: x86_64, aarch64)`);
}
