/**
 * Calls the profile refuses on purpose, with the reason, for reviews and generated docs. The
 * allow list alone decides (anything not in `allowed.ts` is refused); this list names the calls
 * someone might expect to work, or that the hardening floor requires refused, and tests check
 * that none of them is ever allowed.
 */
import type { SyscallName } from './syscalls.ts';

/** One deliberately refused syscall and why. */
export interface RefusedCall {
  readonly syscall: SyscallName;
  readonly reason: string;
}

/** Builds the list from `[name, reason]` pairs. */
function refuse(entries: readonly (readonly [SyscallName, string])[]): RefusedCall[] {
  return entries.map(([syscall, reason]) => ({ syscall, reason }));
}

/** Every deliberate refusal (the hardening floor first). */
export const REFUSED_CALLS: readonly RefusedCall[] = refuse([
  // Namespaces and mounts: the sandbox's view of the system must stay the one we built.
  ['unshare', 'new namespaces re-enable mount and other privileged attack surface'],
  ['setns', 'joining another namespace could leave the sandbox'],
  ['mount', 'mounting could remount read-only binds writable or expose host filesystems'],
  ['umount2', 'unmounting could reveal what masked paths hide'],
  ['pivot_root', 'changes the root filesystem'],
  ['chroot', 'chroot tricks help escape path-based confinement'],
  ['open_tree', 'new mount API: clones mount trees'],
  ['open_tree_attr', 'new mount API: clones mount trees with new attributes'],
  ['move_mount', 'new mount API: attaches mounts'],
  ['fsopen', 'new mount API: creates filesystem contexts'],
  ['fsconfig', 'new mount API: configures filesystem contexts'],
  ['fsmount', 'new mount API: creates mounts'],
  ['fspick', 'new mount API: reconfigures existing mounts'],
  ['mount_setattr', 'new mount API: changes mount attributes such as read-only'],
  ['statmount', 'reports mount sources and host paths that /proc masking hides'],
  ['listmount', 'enumerates mounts, host paths included'],
  ['open_by_handle_at', 'opens files by handle, bypassing path checks (the "shocker" escape)'],
  ['name_to_handle_at', 'produces handles for open_by_handle_at'],
  // Other processes' memory and descriptors.
  ['ptrace', 'tracing other processes reads and changes their memory'],
  ['process_vm_readv', 'reads another process\'s memory'],
  ['process_vm_writev', 'writes another process\'s memory'],
  ['process_madvise', 'acts on another process\'s memory'],
  ['process_mrelease', 'reaps another process\'s memory'],
  ['pidfd_getfd', 'steals file descriptors from other processes'],
  ['kcmp', 'compares kernel objects of other processes, an address-leak oracle'],
  ['move_pages', 'moves other processes\' pages between NUMA nodes; leaks page placement'],
  ['migrate_pages', 'moves other processes\' pages between NUMA nodes'],
  // Kernel code, kernel state and host-wide settings.
  ['kexec_load', 'loads a new kernel'],
  ['kexec_file_load', 'loads a new kernel'],
  ['reboot', 'reboots the host or its pid namespace'],
  ['init_module', 'loads kernel modules'],
  ['finit_module', 'loads kernel modules'],
  ['delete_module', 'unloads kernel modules'],
  ['create_module', 'legacy module loading'],
  ['get_kernel_syms', 'legacy module interface that leaks kernel symbols'],
  ['query_module', 'legacy module interface that leaks kernel information'],
  ['bpf', 'eBPF programs are a large kernel attack surface'],
  ['perf_event_open', 'perf events leak kernel addresses and have a long CVE history'],
  ['userfaultfd', 'stalls kernel page faults, the classic race-widening exploit primitive'],
  ['io_uring_setup', 'io_uring runs operations (sockets, opens) the filter never sees'],
  ['io_uring_enter', 'io_uring runs operations the filter never sees'],
  ['io_uring_register', 'io_uring runs operations the filter never sees'],
  ['keyctl', 'the kernel keyring is not namespaced'],
  ['add_key', 'the kernel keyring is not namespaced'],
  ['request_key', 'the kernel keyring is not namespaced'],
  ['syslog', 'the kernel log leaks host information and addresses'],
  ['quotactl', 'changes filesystem quotas'],
  ['quotactl_fd', 'changes filesystem quotas'],
  ['swapon', 'changes host swap'],
  ['swapoff', 'changes host swap'],
  ['acct', 'switches host process accounting'],
  ['lookup_dcookie', 'profiling interface that leaks kernel paths'],
  ['vhangup', 'hangs up the controlling terminal'],
  ['nfsservctl', 'controls the kernel NFS server'],
  ['settimeofday', 'the clock is host-wide'],
  ['clock_settime', 'the clock is host-wide'],
  ['clock_adjtime', 'the clock is host-wide'],
  ['adjtimex', 'the clock is host-wide'],
  ['sethostname', 'host identity; the sandbox\'s name is set by the runtime'],
  ['setdomainname', 'host identity; the sandbox\'s name is set by the runtime'],
  ['iopl', 'raw I/O port access'],
  ['ioperm', 'raw I/O port access'],
  ['modify_ldt', '16-bit segments: a long line of kernel bugs (CVE-2015-5157, CVE-2017-17053), no modern workload needs them'],
  ['uselib', 'obsolete loader with a history of kernel bugs'],
  ['ustat', 'obsolete filesystem statistics of host devices'],
  ['sysfs', 'obsolete filesystem-type enumeration'],
  ['_sysctl', 'obsolete binary sysctl interface'],
  ['fanotify_init', 'filesystem-wide event monitoring'],
  ['fanotify_mark', 'filesystem-wide event monitoring'],
  ['uretprobe', 'uprobe trampoline entry, only meaningful to the kernel\'s own probes'],
  // NUMA placement, scheduling classes and I/O priority: host-wide resources the cgroup limits govern.
  ['mbind', 'binds memory to NUMA nodes, beyond what the cgroup grants'],
  ['set_mempolicy', 'sets the NUMA policy, beyond what the cgroup grants'],
  ['set_mempolicy_home_node', 'sets the NUMA home node'],
  ['memfd_secret', 'secret memory removed from the kernel\'s direct map: unaccounted, and an exploit aid'],
  ['ioprio_set', 'I/O priority classes compete with the host\'s own I/O'],
  ['sched_setparam', 'real-time scheduling parameters can starve the host'],
  ['sched_setscheduler', 'real-time scheduling classes can starve the host'],
  ['sched_setattr', 'real-time and deadline scheduling can starve the host'],
  // Legacy or rarely used interfaces with no workload need.
  ['remap_file_pages', 'deprecated emulated interface'],
  ['get_thread_area', 'i386 thread areas; the i386 ABI is killed anyway'],
  ['set_thread_area', 'i386 thread areas; the i386 ABI is killed anyway'],
  ['lsm_get_self_attr', 'security-module attributes: no workload need'],
  ['lsm_set_self_attr', 'security-module attributes: no workload need'],
  ['lsm_list_modules', 'reveals the host\'s security modules'],
  ['file_getattr', 'new inode-attribute interface: no workload need yet'],
  ['file_setattr', 'new inode-attribute interface: no workload need yet'],
]);
