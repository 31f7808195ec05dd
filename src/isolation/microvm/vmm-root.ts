/**
 * What the VMM sees of the host's filesystem: bubblewrap (run by root, no user namespace) gives it
 * a root of its own holding only /usr read-only (QEMU, its libraries and firmware), the usual
 * merged-/usr links, a minimal /dev (and /dev/kvm under KVM) and its own /proc, in new network
 * (`none`; restricted/full: the slot's, entered before), IPC, UTS and pid namespaces. No /dev/net/tun:
 * an attached network's tap reaches QEMU as a descriptor (tap-open.c). No /etc, /home, /var, /tmp, /run, state or image store: the guest's files reach QEMU
 * as descriptors only. Then setpriv drops it to the sandbox's uid (see sandbox.ts).
 */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { SNAPSHOT_SOCKET_DIR } from './snapshot.ts';

/** Top-level names that are links into /usr on merged-/usr hosts, or directories to bind read-only. */
const LIB_DIRS = ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32'];

/**
 * bwrap's arguments up to (not including) the `--` before the command. It keeps CAP_SETUID,
 * CAP_SETGID and CAP_SETPCAP only so that setpriv can drop to the VMM's uid and empty the
 * bounding set; setpriv then leaves QEMU no capability at all.
 */
export function vmmRootArgs(kvm: boolean, attached = false, snapshotSocketDir?: string): string[] {
  const args = [
    // Why: the VMM's own empty network namespace (`none`; attached: the slot's, entered before bwrap), nothing shared with host IPC or pids.
    ...(attached ? [] : ['--unshare-net']), '--unshare-ipc', '--unshare-uts', '--unshare-pid',
    // Why: QEMU sees its own cgroup as the root, never the host's cgroup paths.
    '--unshare-cgroup',
    '--die-with-parent', '--new-session',
    '--ro-bind', '/usr', '/usr',
    '--proc', '/proc',
    '--dev', '/dev',
    '--chdir', '/',
    '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP',
  ];
  // Why only under KVM: the one device the VMM needs beyond the minimal /dev.
  if (kvm) args.push('--dev-bind', '/dev/kvm', '/dev/kvm');
  // Why: a VMM capturing a snapshot sends it to a socket in a directory of its own uid's, and sees nothing else of the host's.
  if (snapshotSocketDir !== undefined) args.push('--bind', snapshotSocketDir, SNAPSHOT_SOCKET_DIR);
  return [...args, ...libDirArgs()];
}

/** The host's top-level library directories, as links into /usr (merged /usr) or read-only binds. */
export function libDirArgs(): string[] {
  const args: string[] = [];
  for (const name of LIB_DIRS) {
    const path = `/${name}`;
    let st;
    try {
      st = lstatSync(path);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(path), path);
    else if (st.isDirectory()) args.push('--ro-bind', path, path);
  }
  return args;
}

/**
 * setpriv's group arguments: none at all, except under KVM the group that may open /dev/kvm
 * (Debian: `kvm`, mode 0660) when the device is not open to everyone.
 */
export function vmmGroupArgs(kvm: boolean): string[] {
  if (!kvm) return ['--clear-groups'];
  const st = statSync('/dev/kvm');
  return (st.mode & 0o006) === 0o006 ? ['--clear-groups'] : ['--groups', String(st.gid)];
}
