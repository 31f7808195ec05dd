/**
 * What the in-sandbox probe's lines must say for each case to pass: shared predicates of
 * escape-probes.test.ts, each naming the rule of SECURITY-TESTS.md it encodes.
 */
import assert from 'node:assert/strict';
import { hostInt80Support } from '../../../src/isolation/seccomp/host-abi.ts';
import { ERRNO, lineOf, linesOf, SIGNAL, type ProbeLine } from './probes.ts';

/** Asserts a forked attack failed with `errno`, without having been killed. */
export function deniedWith(lines: ProbeLine[], check: string, errno: number): void {
  const line = lineOf(lines, check);
  assert.equal(line.ret, -1, `${check} must fail: ${JSON.stringify(line)}`);
  assert.equal(line.errno, errno, `${check} must fail with errno ${errno}: ${JSON.stringify(line)}`);
}

/**
 * T5: the filter itself refused a foreign-ABI call: it killed the child (SIGSYS) or denied the call
 * with its errno (EPERM). Any other signal or errno is not the filter's doing: SIGSEGV is the
 * kernel refusing the ABI (see {@link kernelRefusedAbi}), ENOSYS a kernel without that syscall
 * table, and EBADF a 64-bit handler that ran the call under its native number.
 */
export function filterRefused(line: ProbeLine): boolean {
  if (line.signal === SIGNAL.SIGSYS) return true;
  return (line.signal ?? 0) === 0 && line.ret === -1 && line.errno === ERRNO.EPERM;
}

/**
 * T5: the reason to skip an i386 check, when the sandbox's SIGSEGV is the host kernel refusing the
 * ABI before any filter (the same call dies with SIGSEGV on the host outside any filter); undefined
 * otherwise, so that the check is judged by {@link filterRefused}.
 */
export function kernelRefusedAbi(check: string, line: ProbeLine): string | undefined {
  if (!check.startsWith('i386_') || line.signal !== SIGNAL.SIGSEGV) return undefined;
  const host = hostInt80Support();
  return host.kind === 'refused' ? host.reason : undefined;
}

/** T2: the syscalls that must fail with EPERM (clone3 answers ENOSYS, checked apart). */
export const T2_EPERM = [
  'unshare',
  'clone_newuser',
  'setns',
  'mount',
  'umount2',
  'pivot_root',
  'open_tree',
  'move_mount',
  'fsopen',
  'fsmount',
  'fspick',
  'mount_setattr',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'kexec_load',
  'init_module',
  'finit_module',
  'ptrace',
  'process_vm_writev',
  'io_uring_setup',
  'socket_vsock',
];

/** /dev entries that may be devices (T21); anything else there must not be a device node. */
export const DEV_ALLOWED = new Set(['null', 'zero', 'full', 'random', 'urandom', 'tty']);
/** /dev names that must not exist at all, whatever their type (GPU, kvm, disks, input, memory). */
export const DEV_FORBIDDEN = [/^nvidia/, /^kvm$/, /^sd[a-z]/, /^vd[a-z]/, /^xvd/, /^nvme/, /^hd[a-z]/, /^input$/, /^mem$/, /^kmem$/, /^port$/, /^dri$/, /^vsock$/, /^vhost/, /^loop/];


/**
 * T8: what an inherited descriptor may be. Never a file, directory or block device; pipes,
 * sockets, anon inodes, /dev/null and pts by name; a host descriptor gVisor shows as `host:[N]`
 * only as a pipe or socket, or as a char device that behaves like /dev/null (no tty, reads EOF).
 */
export function allowedFd(l: ProbeLine): boolean {
  const target = String(l.target);
  if (l.kind === 'file' || l.kind === 'dir' || l.kind === 'block') return false;
  if (/^(pipe:\[\d+\]|socket:\[\d+\]|anon_inode:.+|\/dev\/pts\/\d+)$/.test(target)) return true;
  if (target === '/dev/null') return l.kind === 'char' && l.major === 1 && l.minor === 3;
  if (/^host:\[\d+\]$/.test(target)) {
    if (l.kind === 'fifo' || l.kind === 'socket') return true;
    return l.kind === 'char' && l.isatty === 0 && l.read === 0;
  }
  return false;
}

/** The mount (from the sandbox's own mountinfo) that contains `path`: the longest matching mount point. */
export function mountOf(lines: ProbeLine[], path: string): ProbeLine | undefined {
  const under = (p: string) => p === '/' || path === p || path.startsWith(`${p}/`);
  return linesOf(lines, 'mount')
    .filter((l) => typeof l.point === 'string' && under(l.point))
    .sort((a, b) => String(b.point).length - String(a.point).length)[0];
}

/** True when a mount line carries the `ro` option. */
export function isReadOnly(mount: ProbeLine): boolean {
  return String(mount.options).split(',').includes('ro');
}

/** An open-for-write that must not have succeeded (any errno, no crash). */
export function deniedOpen(line: ProbeLine): void {
  assert.equal(line.ret, -1, `opened for writing: ${JSON.stringify(line)}`);
}
