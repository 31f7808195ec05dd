/**
 * The one seccomp profile every sandbox runs under, written once as data and compiled to a
 * raw BPF program (`bpf.ts`, for bubblewrap) and to an OCI `linux.seccomp` object (`oci.ts`,
 * for runsc). An allow list (`allowed.ts`, each call with its reason); everything else is
 * refused. The argument checks below narrow allowed calls, each with its reason.
 */
import { ALLOWED_CALLS } from './allowed.ts';
import type { AllowedCall } from './allowed.ts';
import { X86_64_SYSCALLS, type SyscallName } from './syscalls.ts';

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
 * A refusal of one syscall: `syscall` fails with `errno` when every check in `when` holds
 * (always when `when` is absent). A conditional rule narrows an allowed call; an unconditional
 * one gives a call that is not allowed an answer other than the default (ENOSYS, so libc falls
 * back). Several rules for one syscall are alternatives: any match refuses, the first match picks
 * the errno. A syscall the target architecture lacks is skipped there.
 */
export interface SyscallRule {
  readonly syscall: SyscallName;
  readonly errno: DenyErrno;
  readonly when?: readonly ArgCheck[];
  /** Why this is refused, in one line (shown in reviews and generated docs). */
  readonly reason: string;
}

/**
 * A complete profile, an allow list: a call matched by a rule fails with the rule's errno; an
 * allowed call runs; any other call the syscall table knows fails with EPERM, and a number the
 * table does not know (newer than the table, or never assigned) fails with ENOSYS, as on a kernel
 * without it, so libc and runtimes take their fallbacks.
 */
export interface SeccompProfile {
  readonly defaultAction: 'refuse';
  readonly allow: readonly AllowedCall[];
  readonly rules: readonly SyscallRule[];
}

/**
 * Namespace-creating clone flags: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME.
 * CLONE_NEWTIME (0x80) sits in clone()'s exit-signal byte, where no valid signal reaches it, so
 * denying it there costs nothing and keeps the mask identical to unshare()'s flags.
 */
export const CLONE_NAMESPACE_FLAGS =
  (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080) >>> 0;

/** Socket families the profile refers to. */
export const AF_UNIX = 1;
/** IPv4 sockets. */
export const AF_INET = 2;
/** IPv6 sockets. */
export const AF_INET6 = 10;
/** Netlink: kernel interfaces; only NETLINK_ROUTE is allowed. */
export const AF_NETLINK = 16;
/** Packet sockets: raw link-layer access (refused: not an allowed family). */
export const AF_PACKET = 17;
/** vsock: the host<->guest channel of VMs (refused: not an allowed family). */
export const AF_VSOCK = 40;
/** The socket families a sandbox may create: what libc, Python, node and git use. */
export const ALLOWED_SOCKET_FAMILIES: readonly number[] = Object.freeze([AF_UNIX, AF_INET, AF_INET6, AF_NETLINK]);
/** The netlink protocols a sandbox may open: routing only (getifaddrs, getaddrinfo's AI_ADDRCONFIG). */
export const ALLOWED_NETLINK_PROTOCOLS: readonly number[] = Object.freeze([0 /* NETLINK_ROUTE */]);
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
/** S_ISUID | S_ISGID: mode bits that would plant privilege on the host through a writable grant. */
export const SETID_MODE_BITS = 0o6000;
/** O_CREAT | __O_TMPFILE (same values on x86_64 and asm-generic): the open flags under which the kernel reads `mode`. */
export const OPEN_CREATING_FLAGS = (0o100 | 0o20000000) >>> 0;

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

/** `syscall` refused when its mode argument `arg` carries setuid or setgid. */
function setidMode(syscall: SyscallName, arg: ArgIndex): SyscallRule {
  return {
    syscall,
    errno: 'EPERM',
    when: [{ arg, op: 'anyBitSet', mask: SETID_MODE_BITS }],
    reason: 'a setuid/setgid file made through a writable grant would run with the sandbox\'s host ids for any host user',
  };
}

/** An open call refused when it creates (O_CREAT or O_TMPFILE) with a setuid or setgid mode. */
function setidOpen(syscall: SyscallName, flagsArg: ArgIndex, modeArg: ArgIndex): SyscallRule {
  return {
    syscall,
    errno: 'EPERM',
    when: [
      { arg: flagsArg, op: 'anyBitSet', mask: OPEN_CREATING_FLAGS },
      { arg: modeArg, op: 'anyBitSet', mask: SETID_MODE_BITS },
    ],
    reason: 'creating a setuid/setgid file through a writable grant would plant host privilege',
  };
}

/** Setuid/setgid modes: nothing created or chmod'ed through a grant may carry them on the host (T26). */
const SETID_RULES: readonly SyscallRule[] = [
  setidMode('chmod', 1),
  setidMode('fchmod', 1),
  setidMode('fchmodat', 2),
  setidMode('fchmodat2', 2),
  setidMode('creat', 1),
  setidMode('mkdir', 1),
  setidMode('mkdirat', 2),
  setidMode('mknod', 1),
  setidMode('mknodat', 2),
  setidOpen('open', 1, 2),
  setidOpen('openat', 2, 3),
];

/** openat2 keeps its mode in memory a filter cannot read: refused so callers fall back to openat. */
const OPENAT2_RULE: SyscallRule = {
  syscall: 'openat2',
  errno: 'ENOSYS',
  reason: 'openat2\'s mode lives in memory a filter cannot read (setuid files); ENOSYS makes callers fall back to openat',
};

/** Freezes a profile and everything in it. */
function freeze(profile: SeccompProfile): SeccompProfile {
  for (const rule of profile.rules) {
    for (const check of rule.when ?? []) Object.freeze(check);
    Object.freeze(rule.when);
    Object.freeze(rule);
  }
  for (const call of profile.allow) Object.freeze(call);
  Object.freeze(profile.allow);
  Object.freeze(profile.rules);
  return Object.freeze(profile);
}

/** The profile every sandbox runs under. */
// Why frozen: every sandbox shares this object; a stray mutation would weaken all of them at once.
export const DEFAULT_PROFILE: SeccompProfile = freeze({
  defaultAction: 'refuse',
  allow: ALLOWED_CALLS,
  rules: [
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
    OPENAT2_RULE,
    ...SETID_RULES,
    // Sockets: only the families workloads use, netlink for routing only, no raw IP.
    {
      syscall: 'socket',
      errno: 'EPERM',
      when: [{ arg: 0, op: 'notIn', values: ALLOWED_SOCKET_FAMILIES }],
      reason: 'other families (vsock, packet, AF_ALG, TIPC, RDS, …) reach the hypervisor, raw links or rarely used kernel code',
    },
    {
      syscall: 'socket',
      errno: 'EPERM',
      when: [
        { arg: 0, op: 'eq', value: AF_NETLINK },
        { arg: 2, op: 'notIn', values: ALLOWED_NETLINK_PROTOCOLS },
      ],
      reason: 'netlink beyond routing (XFRM, NETFILTER, SOCK_DIAG, AUDIT, uevents, …) reaches host-wide kernel state and attack surface',
    },
    rawSocket(AF_INET, 'IPv4'),
    rawSocket(AF_INET6, 'IPv6'),
    {
      syscall: 'socketpair',
      errno: 'EPERM',
      when: [{ arg: 0, op: 'notIn', values: [AF_UNIX] }],
      reason: 'socket pairs are a unix-socket feature; other families only add attack surface',
    },
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

/**
 * The filter of the process that serves a microvm's grants to its guest (virtiofsd): every call it
 * may need, except set-id modes. Why: it writes to the host on the guest's word, so a guest kernel
 * that is taken over must still not plant a setuid/setgid file on the host (T26). Its own seccomp
 * filter and a user namespace holding only its uid bound the rest.
 */
export const FILE_SERVER_PROFILE: SeccompProfile = freeze({
  defaultAction: 'refuse',
  allow: (Object.keys(X86_64_SYSCALLS) as SyscallName[])
    .filter((name) => name !== OPENAT2_RULE.syscall)
    .map((syscall) => ({ syscall, reason: 'the file server\'s own needs, bounded by its own filter and namespaces' })),
  rules: [OPENAT2_RULE, ...SETID_RULES],
});
