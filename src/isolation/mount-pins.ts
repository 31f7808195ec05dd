/**
 * Pins granted host paths to file descriptors before a sandbox mounts them (T13, symlink races).
 *
 * A path is resolved once, opened with O_PATH|O_NOFOLLOW, and the descriptor's real path is
 * compared with the resolved one: if any component was swapped for a symlink in between, the two
 * differ and the grant is refused. The runtime then binds the pinned inode through its descriptor, so
 * a swap after this check can't redirect the mount either.
 */
import { closeSync, openSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { ControlError, type GrantedMount } from './driver.ts';

/** Linux O_PATH: a descriptor that names an inode without opening it for I/O. */
const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;

/** Host paths a sandbox must never receive, whatever the request says. */
const FORBIDDEN_PREFIXES = ['/proc', '/sys', '/dev', '/run', '/var/run', '/boot'];
const FORBIDDEN_EXACT = ['/', '/etc', '/root', '/home', '/usr', '/var', '/var/lib'];

export interface PinnedMount {
  mount: GrantedMount;
  /** The canonical host path the fd refers to. */
  resolvedPath: string;
  fd: number;
}

/** Opens and verifies every granted path; closes what it opened if any one fails. */
export function pinMounts(mounts: GrantedMount[], stateDirs: string[]): PinnedMount[] {
  const pinned: PinnedMount[] = [];
  try {
    for (const mount of mounts) pinned.push(pinOne(mount, stateDirs));
  } catch (err) {
    releasePins(pinned);
    throw err;
  }
  return pinned;
}

/** Closes pinned descriptors; safe to call twice. */
export function releasePins(pins: PinnedMount[]): void {
  for (const pin of pins.splice(0)) {
    try {
      closeSync(pin.fd);
    } catch {
      // Already closed.
    }
  }
}

function pinOne(mount: GrantedMount, stateDirs: string[]): PinnedMount {
  let resolvedPath: string;
  try {
    resolvedPath = realpathSync(mount.hostPath);
  } catch (err) {
    throw new ControlError('filesystem_access', `cannot grant ${mount.hostPath}: ${(err as Error).message}`, { cause: err });
  }
  refuseDangerous(mount.hostPath, resolvedPath, stateDirs);
  const fd = openSync(resolvedPath, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  try {
    const actual = readlinkSync(`/proc/self/fd/${fd}`);
    // A component swapped for a symlink since realpath() makes the pinned inode's path differ.
    if (actual !== resolvedPath) {
      throw new ControlError('filesystem_access', `${mount.hostPath} changed while being granted (now ${actual})`);
    }
    const kind = statSync(`/proc/self/fd/${fd}`);
    if (!kind.isDirectory() && !kind.isFile()) {
      throw new ControlError('filesystem_access', `${mount.hostPath} is neither a file nor a directory`);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return { mount, resolvedPath, fd };
}

function refuseDangerous(requested: string, resolved: string, stateDirs: string[]): void {
  const under = (p: string, prefix: string) => p === prefix || p.startsWith(`${prefix}/`);
  // Kernel and runtime interfaces (and the sockets under /run) are never grantable.
  const bad =
    FORBIDDEN_EXACT.includes(resolved) ||
    FORBIDDEN_PREFIXES.some((p) => under(resolved, p)) ||
    // Airlock's own state (images, leases, bundles) must stay out of reach of sandboxes.
    stateDirs.some((d) => under(resolved, d) || under(d, resolved));
  if (bad) {
    const shown = requested === resolved ? requested : `${requested} (→ ${resolved})`;
    throw new ControlError('filesystem_access', `${shown} may not be granted to a sandbox`);
  }
}
