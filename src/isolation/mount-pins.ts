/**
 * Pins granted host paths to file descriptors before a sandbox mounts them: the one grant check
 * both runtimes use (T13, T23, T24, T25).
 *
 * For every grant, in order:
 *  1. the requested path is normalized and refused if it may never be granted (by name only);
 *  2. a child running as the sandbox's own unprivileged host uid walks it without following links
 *     and opens it for the access the grant needs (see grants/as-sandbox-user.ts): a grant exposes
 *     nothing that uid could not open itself, and a granted directory holding a unix socket is refused;
 *  3. the controller walks it again, as root, without following links, and pins the final
 *     component as an O_PATH descriptor, which must be the very inode the child reached.
 * The runtime then binds the pinned descriptor, never the path, so nothing swapped in afterwards is
 * followed either.
 */
import { accessSync, closeSync, fstatSync, openSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { type GrantedMount } from './driver.ts';
import { RefusedControlError } from '../host/control-error.ts';
import { viewAsUser, SOCKET_SCAN_MAX_ENTRIES, type GrantView, type HostUser, type InodeIdentity } from './grants/as-sandbox-user.ts';
import { refuseNeverGrantableInode, refuseNeverGrantablePath } from './grants/never-grantable.ts';
import { walkNoFollow } from './grants/no-follow.ts';

export type { HostUser } from './grants/as-sandbox-user.ts';

export interface PinnedMount {
  mount: GrantedMount;
  /** The normalized host path that was walked and pinned (it holds no symlink). */
  resolvedPath: string;
  fd: number;
}

/** What grants are checked against. */
export interface PinOptions {
  /** Airlock's own state directories: never granted, nor any tree holding them. */
  stateDirs: string[];
  /** The sandbox's unprivileged host identity: a grant exposes only what it could open itself. */
  user: HostUser;
}

/** Checks and pins every granted path; closes what it opened if any one fails. */
export async function pinMounts(mounts: GrantedMount[], options: PinOptions): Promise<PinnedMount[]> {
  if (mounts.length === 0) return [];
  const paths = mounts.map((mount) => normalizeGrant(mount.hostPath));
  paths.forEach((path) => refuseNeverGrantablePath(path, options.stateDirs));
  const views = await viewsByIdentity(mounts, paths, options.user);
  const pinned: PinnedMount[] = [];
  try {
    mounts.forEach((mount, i) => {
      const path = paths[i] ?? mount.hostPath;
      pinned.push({ mount, resolvedPath: path, fd: pinOne(path, mount, views[i] ?? { ok: false, why: 'inaccessible' }) });
    });
  } catch (err) {
    releasePins(pinned);
    throw err;
  }
  return pinned;
}

/**
 * What each grant reaches, asked as the identity it is used with: the sandbox's own host uid, or
 * for a grant written as its owner (`writeAs`, an id-mapped mount) that owner. One child per identity.
 */
async function viewsByIdentity(mounts: GrantedMount[], paths: string[], sandboxUser: HostUser): Promise<GrantView[]> {
  const views: GrantView[] = new Array<GrantView>(mounts.length);
  const groups = new Map<string, { user: HostUser; indices: number[] }>();
  mounts.forEach((mount, i) => {
    const user = mount.writeAs ?? sandboxUser;
    const key = `${user.uid}:${user.gid}`;
    const group = groups.get(key) ?? { user, indices: [] };
    group.indices.push(i);
    groups.set(key, group);
  });
  for (const { user, indices } of groups.values()) {
    const answers = await viewAsUser(user, indices.map((i) => ({ path: paths[i] ?? mounts[i]?.hostPath ?? '', writable: mounts[i]?.writable ?? false })));
    indices.forEach((i, j) => (views[i] = answers[j] ?? { ok: false, why: 'inaccessible' }));
  }
  return views;
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

/** The absolute, lexically normalized form of a granted path (no `.`, `..` or trailing slash). */
function normalizeGrant(hostPath: string): string {
  if (!posix.isAbsolute(hostPath) || hostPath.includes('\0')) throw new RefusedControlError('filesystem_access', `${JSON.stringify(hostPath)} is not an absolute path`);
  const path = posix.normalize(hostPath);
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** Why a grant the sandbox's uid could not reach is refused: one answer for every reason. */
function inaccessible(path: string, mount: GrantedMount): RefusedControlError {
  // Missing, unsearchable parent, no permission: the same words, so a refusal reveals nothing that uid can't see.
  const access = mount.writable ? 'read and write' : 'read';
  // The fix is the same for every path, so naming it reveals nothing about this one.
  const fix = mount.writable
    ? " (a sandbox writes with its own unprivileged host uid: grant a directory you own from this host (airlock run, or sandbox create over the unix socket) on the namespace runtime, which writes it as you, or one others may write, e.g. made with 'mkdir -m 1777')"
    : ' (a sandbox reads with its own unprivileged host uid: the path and its parents must be readable and searchable by others)';
  return new RefusedControlError('filesystem_access', `cannot grant ${path}: it does not exist or the sandbox's user may not ${access} it${fix}`);
}

/** The refusal for a child's answer; the child only reports what the sandbox's uid can see. */
function refusal(path: string, mount: GrantedMount, view: Exclude<GrantView, { ok: true }>): RefusedControlError {
  switch (view.why) {
    case 'inaccessible':
      return inaccessible(path, mount);
    case 'symlink':
      return new RefusedControlError('filesystem_access', `cannot grant ${path}: ${view.component} is a symbolic link, and grants never follow links (grant the link's target itself)`);
    case 'kind':
      return new RefusedControlError('filesystem_access', `cannot grant ${path}: it is ${view.type}, neither a file nor a directory`);
    case 'socket':
      return new RefusedControlError('filesystem_access', `cannot grant ${path}: ${view.at} below it is a unix socket, and host sockets are never granted`);
    case 'unlistable':
      return new RefusedControlError('filesystem_access', `cannot grant ${path}: the sandbox's user can enter ${view.at} below it but not list it, so unix sockets in it can't be ruled out`);
    case 'too-many':
      return new RefusedControlError(
        'filesystem_access',
        `cannot grant ${path}: more than ${SOCKET_SCAN_MAX_ENTRIES} entries below it, too many to rule out unix sockets at start; grant a narrower directory`,
      );
  }
}

/** Pins one grant as root, to the inode the sandbox's uid reached; returns the O_PATH descriptor. */
function pinOne(path: string, mount: GrantedMount, view: GrantView): number {
  if (!view.ok) throw refusal(path, mount, view);
  const walk = walkNoFollow({ accessSync, closeSync, fstatSync, openSync, readdirSync }, path);
  // The sandbox's uid reached it a moment ago without links: anything else now means it was swapped.
  if (!walk.ok) throw new RefusedControlError('filesystem_access', `cannot grant ${path}: it changed while being granted`);
  try {
    const st = fstatSync(walk.fd, { bigint: true });
    const pinned: InodeIdentity = { dev: String(st.dev), ino: String(st.ino), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) };
    if (!sameInode(pinned, view.inode)) throw new RefusedControlError('filesystem_access', `cannot grant ${path}: it changed while being granted`);
    refuseNeverGrantableInode(path, pinned);
  } catch (err) {
    closeSync(walk.fd);
    throw err;
  }
  return walk.fd;
}

/** Same inode, and the same owner and mode the access decision was made on. */
function sameInode(a: InodeIdentity, b: InodeIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid;
}

