/**
 * The sandbox seccomp filter: one declarative profile, compiled to raw BPF for bubblewrap and to
 * an OCI `linux.seccomp` object for runsc.
 */
export { DEFAULT_PROFILE, ERRNO_VALUES, FILE_SERVER_PROFILE } from './profile.ts';
export { ALLOWED_CALLS } from './allowed.ts';
export type { AllowedCall } from './allowed.ts';
export { REFUSED_CALLS } from './refused.ts';
export type { RefusedCall } from './refused.ts';
export type { ArgCheck, ArgIndex, DenyErrno, SeccompProfile, SyscallRule } from './profile.ts';
export type { SyscallName } from './syscalls.ts';
export { AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64, auditArch, hostArch, syscallNumber } from './arch.ts';
export type { Arch } from './arch.ts';
export { compileBpf, compileProgram } from './bpf.ts';
export {
  BPF_MAXINSNS,
  SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_DATA,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
} from './bpf-asm.ts';
export type { SockFilter } from './bpf-asm.ts';
export { toOciSeccomp } from './oci.ts';
export type { OciArch, OciSeccomp, OciSeccompArg, OciSeccompSyscall } from './oci.ts';
