/**
 * Host paths no sandbox may ever receive, whatever the request says: kernel and runtime
 * interfaces, system trees, the host's shared temporary and runtime directories, and airlock's own
 * state. Checked on the requested path (before anything on disk is looked at, so a refusal tells
 * nothing about what exists) and again on the pinned inode (so a bind mount elsewhere of one of
 * the exact directories can't smuggle it in).
 */
import { lstatSync } from 'node:fs';
import { RefusedControlError } from '../../host/control-error.ts';
import { isAtOrUnder } from '../../host/paths.ts';
import type { InodeIdentity } from './as-sandbox-user.ts';

/** Trees refused with everything below them: kernel interfaces, devices and runtime sockets. */
export const NEVER_BELOW: readonly string[] = ['/proc', '/sys', '/dev', '/run', '/var/run', '/boot'];

/**
 * Directories refused themselves (what is below them may be granted): the host root and system
 * trees, and the shared temporary and runtime directories, which hold other users' and services'
 * unix sockets (X11, ssh-agent, D-Bus, systemd) that a grant would hand to the sandbox.
 */
export const NEVER_ITSELF: readonly string[] = ['/', '/etc', '/root', '/home', '/usr', '/var', '/var/lib', '/tmp', '/var/tmp', '/dev/shm', '/run/user'];

/** Throws when `path` (absolute, normalized) may never be granted; `stateDirs` are airlock's own. */
export function refuseNeverGrantablePath(path: string, stateDirs: readonly string[]): void {
  const bad =
    NEVER_ITSELF.includes(path) ||
    NEVER_BELOW.some((dir) => isAtOrUnder(path, dir)) ||
    // Airlock's own state (images, leases, bundles) must stay out of reach of sandboxes, and so must a tree holding it.
    stateDirs.some((dir) => isAtOrUnder(path, dir) || isAtOrUnder(dir, path));
  if (bad) throw new RefusedControlError('filesystem_access', `${path} may not be granted to a sandbox`);
}

/** Throws when the pinned inode is one of the directories refused by name, reached by another path. */
export function refuseNeverGrantableInode(path: string, inode: InodeIdentity): void {
  for (const dir of NEVER_ITSELF) {
    let st;
    try {
      st = lstatSync(dir, { bigint: true });
    } catch {
      continue;
    }
    if (String(st.dev) === inode.dev && String(st.ino) === inode.ino) {
      throw new RefusedControlError('filesystem_access', `${path} is ${dir} (by another path) and may not be granted to a sandbox`);
    }
  }
}
