/**
 * Escape patterns recognised in the syscalls a sandbox's seccomp filter denied. One place for the
 * mapping from a denied call to the pattern and severity it is reported under.
 */
import type { Severity } from '../result.ts';

/** A pattern a denied call belongs to, with its severity. */
export interface DenialPattern {
  pattern: string;
  severity: Severity;
}

// Why CRITICAL: a new namespace or a mount is the first step of every known container escape.
const NAMESPACE = new Set(['unshare', 'setns', 'clone3_newns', 'pivot_root', 'chroot']);
const MOUNT = new Set(['mount', 'umount2', 'move_mount', 'open_tree', 'fsopen', 'fsmount', 'fsconfig', 'fspick', 'mount_setattr']);
// Why HIGH: the kernel surfaces most often used to escalate (eBPF, module loading, tracing, keys).
const KERNEL = new Set(['bpf', 'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load', 'ptrace', 'process_vm_writev', 'process_vm_readv', 'perf_event_open', 'keyctl', 'add_key', 'request_key', 'userfaultfd', 'open_by_handle_at', 'name_to_handle_at', 'iopl', 'ioperm', 'reboot', 'swapon', 'swapoff', 'settimeofday', 'clock_settime', 'adjtimex', 'quotactl', 'acct', 'lookup_dcookie', 'kcmp']);

/** The pattern a denied syscall is reported under (`forbidden_syscall` for any other call). */
export function patternOf(syscall: string): DenialPattern {
  if (NAMESPACE.has(syscall)) return { pattern: 'namespace_escape', severity: 'CRITICAL' };
  if (MOUNT.has(syscall)) return { pattern: 'mount_escape', severity: 'CRITICAL' };
  if (KERNEL.has(syscall)) return { pattern: 'kernel_surface', severity: 'HIGH' };
  return { pattern: 'forbidden_syscall', severity: 'MEDIUM' };
}

/**
 * Patterns of writes and socket probes on watched paths (agent --watch-writes classifies the path;
 * this is where each pattern gets its severity). Unknown names are MEDIUM.
 */
const PATH_PATTERNS: ReadonlyMap<string, Severity> = new Map(Object.entries({
  // Why CRITICAL: core_pattern, modprobe, the other kernel.* tunables and sysrq run code as host root or stop the host.
  kernel_tunable_write: 'CRITICAL',
  // Why HIGH: the rest of the host kernel's and devices' controls, the boot chain, device nodes and the runtimes' sockets.
  proc_sys_write: 'HIGH',
  sysfs_write: 'HIGH',
  boot_write: 'HIGH',
  device_write: 'HIGH',
  device_node_create: 'HIGH',
  runtime_socket_probe: 'HIGH',
  // Why MEDIUM: a process that made itself non-dumpable hides its paths from the watcher; the kernel still decided.
  write_unseen: 'MEDIUM',
} satisfies Record<string, Severity>));

/** The severity of a watched-path pattern (from agent --watch-writes). */
export function pathPatternOf(pattern: string): DenialPattern {
  return { pattern, severity: PATH_PATTERNS.get(pattern) ?? 'MEDIUM' };
}
