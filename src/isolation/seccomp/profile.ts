/**
 * The one seccomp profile every sandbox runs under, written once as data and compiled to a
 * raw BPF program (`bpf.ts`, for bubblewrap) and to an OCI `linux.seccomp` object (`oci.ts`,
 * for runsc). Default: allow. What it denies is listed below, each entry with its reason.
 */
import type { SyscallName } from './syscalls.ts';

/** The errno a denied syscall returns. ENOSYS only where libc must fall back to another call. */
export type DenyErrno = 'EPERM' | 'ENOSYS';

/** Numeric values of the errnos a rule may return (Linux, all architectures). */
export const ERRNO_VALUES: Readonly<Record<DenyErrno, number>> = Object.freeze({ EPERM: 1, ENOSYS: 38 });

/** Index of a syscall argument (the kernel passes at most six). */
export type ArgIndex = 0 | 1 | 2 | 3 | 4 | 5;

/**
 * A test on one syscall argument. Every check reads only the argument's low 32 bits: each
 * argument the profile inspects has kernel type int / unsigned int, which the kernel truncates,
 * so bits 32..63 must never change the verdict (CVE-2019-10063: high bits smuggling past a
 * 64-bit compare). Values and masks are unsigned 32-bit numbers.
 */
export type ArgCheck =
  /** low32(arg) === value */
  | { readonly arg: ArgIndex; readonly op: 'eq'; readonly value: number }
  /** (low32(arg) & mask) === value */
  | { readonly arg: ArgIndex; readonly op: 'maskedEq'; readonly mask: number; readonly value: number }
  /** (low32(arg) & mask) !== 0 */
  | { readonly arg: ArgIndex; readonly op: 'anyBitSet'; readonly mask: number }
  /** low32(arg) is none of `values` */
  | { readonly arg: ArgIndex; readonly op: 'notIn'; readonly values: readonly number[] };

/**
 * One deny rule: `syscall` fails with `errno` when every check in `when` holds (always when
 * `when` is absent). Several rules for one syscall are alternatives: any match denies, the first
 * match picks the errno. A syscall the target architecture lacks is skipped there.
 */
export interface SyscallRule {
  readonly syscall: SyscallName;
  readonly errno: DenyErrno;
  readonly when?: readonly ArgCheck[];
  /** Why this is denied, in one line (shown in reviews and generated docs). */
  readonly reason: string;
}

/** A complete profile: everything not matched by a rule is allowed. */
export interface SeccompProfile {
  readonly defaultAction: 'allow';
  readonly rules: readonly SyscallRule[];
}

/**
 * Namespace-creating clone flags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME.
 * CLONE_NEWTIME (0x80) sits in clone()'s exit-signal byte, where no valid signal reaches it, so
 * denying it there costs nothing and keeps the mask identical to unshare()'s flags.
 */
export const CLONE_NAMESPACE_FLAGS =
  (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080) >>> 0;

/** Socket families and types the profile refers to. */
export const AF_INET = 2;
/** IPv6 sockets (checked together with AF_INET for raw sockets). */
export const AF_INET6 = 10;
/** Packet sockets: raw link-layer access. */
export const AF_PACKET = 17;
/** vsock: the host<->guest channel of VMs. */
export const AF_VSOCK = 40;
/** SOCK_RAW; compared after masking the type with SOCK_TYPE_MASK (0xf), as the kernel does. */
export const SOCK_RAW = 3;
/** The kernel keeps only these bits of socket()'s type as the type (the rest are flags). */
export const SOCK_TYPE_MASK = 0xf;
/** Pushes a byte into a terminal's input queue (CVE-2017-5226). */
export const TIOCSTI = 0x5412;
/** Console multiplexer ioctl that can also inject input (paste selection). */
export const TIOCLINUX = 0x541c;
/** The personality values a sandbox may set: PER_LINUX, PER_LINUX32, UNAME26 (+LINUX32), query. */
export const SAFE_PERSONALITIES: readonly number[] = Object.freeze([0x0, 0x0008, 0x20000, 0x20008, 0xffffffff]);

/** Builds an unconditional EPERM rule. */
function deny(syscall: SyscallName, reason: string): SyscallRule {
  return { syscall, errno: 'EPERM', reason };
}

/** `syscall` refused when argument `arg` equals `value`. */
function denyWhenArg(syscall: SyscallName, arg: ArgIndex, value: number, reason: string): SyscallRule {
  return { syscall, errno: 'EPERM', when: [{ arg, op: 'eq', value }], reason };
}

/** Raw (type SOCK_RAW) sockets of one IP family. */
function rawSocket(family: number, name: string): SyscallRule {
  return {
    syscall: 'socket',
    errno: 'EPERM',
    when: [
      { arg: 0, op: 'eq', value: family },
      { arg: 1, op: 'maskedEq', mask: SOCK_TYPE_MASK, value: SOCK_RAW },
    ],
    reason: `raw ${name} sockets forge packets and sniff traffic`,
  };
}

/** Freezes a profile and everything in it. */
function freeze(profile: SeccompProfile): SeccompProfile {
  for (const rule of profile.rules) {
    for (const check of rule.when ?? []) Object.freeze(check);
    Object.freeze(rule.when);
    Object.freeze(rule);
  }
  Object.freeze(profile.rules);
  return Object.freeze(profile);
}

/** The profile every sandbox runs under. */
// Why frozen: every sandbox shares this object; a stray mutation would weaken all of them at once.
export const DEFAULT_PROFILE: SeccompProfile = freeze({
  defaultAction: 'allow',
  rules: [
    // Namespaces and mounts: the sandbox's view of the system must stay the one we built.
    deny('unshare', 'new namespaces re-enable mount and other privileged attack surface'),
    deny('setns', 'joining another namespace could leave the sandbox'),
    {
      syscall: 'clone',
      errno: 'EPERM',
      when: [{ arg: 0, op: 'anyBitSet', mask: CLONE_NAMESPACE_FLAGS }],
      reason: 'clone with CLONE_NEW* flags creates namespaces, like unshare',
    },
    {
      syscall: 'clone3',
      errno: 'ENOSYS',
      reason: 'clone3 flags live in memory a filter cannot read; ENOSYS makes libc fall back to clone',
    },
    deny('mount', 'mounting could remount read-only binds writable or expose host filesystems'),
    deny('umount2', 'unmounting could reveal what masked paths hide'),
    deny('pivot_root', 'changes the root filesystem'),
    deny('chroot', 'chroot tricks help escape path-based confinement'),
    deny('open_tree', 'new mount API: clones mount trees'),
    deny('open_tree_attr', 'new mount API: clones mount trees with new attributes'),
    deny('move_mount', 'new mount API: attaches mounts'),
    deny('fsopen', 'new mount API: creates filesystem contexts'),
    deny('fsconfig', 'new mount API: configures filesystem contexts'),
    deny('fsmount', 'new mount API: creates mounts'),
    deny('fspick', 'new mount API: reconfigures existing mounts'),
    deny('mount_setattr', 'new mount API: changes mount attributes such as read-only'),
    deny('open_by_handle_at', 'opens files by handle, bypassing path checks (the "shocker" escape)'),
    deny('name_to_handle_at', 'produces handles for open_by_handle_at'),
    // Other processes' memory and descriptors.
    deny('ptrace', 'tracing other processes reads and changes their memory'),
    deny('process_vm_readv', 'reads another process\'s memory'),
    deny('process_vm_writev', 'writes another process\'s memory'),
    deny('pidfd_getfd', 'steals file descriptors from other processes'),
    deny('kcmp', 'compares kernel objects of other processes, an address-leak oracle'),
    // Kernel code, kernel state and host-wide settings.
    deny('kexec_load', 'loads a new kernel'),
    deny('kexec_file_load', 'loads a new kernel'),
    deny('reboot', 'reboots the host or its pid namespace'),
    deny('init_module', 'loads kernel modules'),
    deny('finit_module', 'loads kernel modules'),
    deny('delete_module', 'unloads kernel modules'),
    deny('create_module', 'legacy module loading'),
    deny('get_kernel_syms', 'legacy module interface that leaks kernel symbols'),
    deny('query_module', 'legacy module interface that leaks kernel information'),
    deny('bpf', 'eBPF programs are a large kernel attack surface'),
    deny('perf_event_open', 'perf events leak kernel addresses and have a long CVE history'),
    deny('userfaultfd', 'stalls kernel page faults, the classic race-widening exploit primitive'),
    deny('io_uring_setup', 'io_uring runs operations (sockets, opens) the filter never sees'),
    deny('io_uring_enter', 'io_uring runs operations the filter never sees'),
    deny('io_uring_register', 'io_uring runs operations the filter never sees'),
    deny('keyctl', 'the kernel keyring is not namespaced'),
    deny('add_key', 'the kernel keyring is not namespaced'),
    deny('request_key', 'the kernel keyring is not namespaced'),
    deny('syslog', 'the kernel log leaks host information and addresses'),
    deny('quotactl', 'changes filesystem quotas'),
    deny('quotactl_fd', 'changes filesystem quotas'),
    deny('swapon', 'changes host swap'),
    deny('swapoff', 'changes host swap'),
    deny('acct', 'switches host process accounting'),
    deny('lookup_dcookie', 'profiling interface that leaks kernel paths'),
    deny('vhangup', 'hangs up the controlling terminal'),
    deny('nfsservctl', 'controls the kernel NFS server'),
    deny('settimeofday', 'the clock is host-wide'),
    deny('clock_settime', 'the clock is host-wide'),
    deny('clock_adjtime', 'the clock is host-wide'),
    deny('adjtimex', 'the clock is host-wide'),
    deny('iopl', 'raw I/O port access'),
    deny('ioperm', 'raw I/O port access'),
    deny('uselib', 'obsolete loader with a history of kernel bugs'),
    deny('ustat', 'obsolete filesystem statistics of host devices'),
    deny('sysfs', 'obsolete filesystem-type enumeration'),
    deny('_sysctl', 'obsolete binary sysctl interface'),
    deny('fanotify_init', 'filesystem-wide event monitoring'),
    // Arguments that turn ordinary calls into escapes.
    denyWhenArg('socket', 0, AF_VSOCK, 'vsock talks to the hypervisor host, outside every network control'),
    denyWhenArg('socket', 0, AF_PACKET, 'packet sockets forge frames and sniff traffic'),
    rawSocket(AF_INET, 'IPv4'),
    rawSocket(AF_INET6, 'IPv6'),
    denyWhenArg('ioctl', 1, TIOCSTI, 'TIOCSTI injects keystrokes into a terminal (CVE-2017-5226)'),
    denyWhenArg('ioctl', 1, TIOCLINUX, 'TIOCLINUX can inject console input'),
    {
      syscall: 'personality',
      errno: 'EPERM',
      when: [{ arg: 0, op: 'notIn', values: SAFE_PERSONALITIES }],
      reason: 'other personalities disable ASLR (ADDR_NO_RANDOMIZE) or make data executable (READ_IMPLIES_EXEC)',
    },
  ],
});
