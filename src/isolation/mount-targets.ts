/**
 * Checks, before anything starts, that every grant's target and the working directory can exist
 * inside a read-only image root: under /tmp (fresh scratch, created on demand), an existing
 * directory/file of the image reached without symlinks, or a path missing from the image below an
 * existing directory (the runtime makes it outside the image: gVisor in its skeleton layer, the
 * namespace driver on a read-only root built around the image, see namespace/root-layout.ts).
 * Never in the image itself: it is shared by every sandbox.
 *
 * The working directory follows one rule on every runtime: on the scratch (/tmp and below) it is
 * made on demand, owned by the sandbox user; in a granted mount it is the grant's; anywhere else it
 * must already be a directory of the image, or the request is refused naming it.
 */
import { lstatSync, type Stats } from 'node:fs';
import { type SandboxSpec } from './driver.ts';
import { RefusedControlError, type RefusingControl } from '../host/control-error.ts';

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** lstat of `path` inside `rootfs`, refusing symlinks on the way (as `control`); null when absent. */
function lstatInImage(rootfs: string, path: string, control: RefusingControl = 'filesystem_access'): Stats | null {
  let st: Stats;
  try {
    // `/` is the image's root itself.
    st = lstatSync(rootfs);
  } catch {
    return null;
  }
  let rel = '';
  for (const part of path.split('/').filter(Boolean)) {
    rel = `${rel}/${part}`;
    try {
      st = lstatSync(`${rootfs}${rel}`);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) throw new RefusedControlError(control, `${rel} is a symlink in the image; can't mount or work at ${path}`);
  }
  return st;
}

/** The deepest existing component of `path` in the image; refuses one that is not a directory. */
function existingParent(rootfs: string, path: string): string {
  const parts = path.split('/').filter(Boolean);
  let deepest = '/';
  for (let i = 1; i < parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    const st = lstatInImage(rootfs, prefix);
    if (st === null) break;
    // Why: a mount point can only be made below a directory; a file there would be replaced from view.
    if (!st.isDirectory()) throw new RefusedControlError('filesystem_access', `${prefix} is a file in the image: can't mount at ${path}`);
    deepest = prefix;
  }
  return deepest;
}

/**
 * Throws a ControlError naming the first grant target or workdir that can't be used. Returns the
 * grant targets (outside /tmp) that the image lacks: the runtime makes them outside the image.
 */
export function checkMountTargets(spec: SandboxSpec, hostIsDir: boolean[]): string[] {
  const missing: string[] = [];
  spec.mounts.forEach((mount, i) => {
    if (under(mount.sandboxPath, '/tmp')) return;
    const st = lstatInImage(spec.image.rootfs, mount.sandboxPath);
    if (st === null) {
      existingParent(spec.image.rootfs, mount.sandboxPath);
      missing.push(mount.sandboxPath);
      return;
    }
    if (st.isDirectory() !== (hostIsDir[i] ?? true)) {
      throw new RefusedControlError('filesystem_access', `${mount.sandboxPath} is a ${st.isDirectory() ? 'directory' : 'file'} in the image but the granted path is not`);
    }
  });
  checkWorkdir(spec);
  return missing;
}

/** Whether the runtime makes the working directory: below /tmp (the scratch) and not inside a grant. */
export function workdirOnScratch(spec: Pick<SandboxSpec, 'workdir' | 'mounts'>): boolean {
  return spec.workdir.startsWith('/tmp/') && !spec.mounts.some((m) => under(spec.workdir, m.sandboxPath));
}

/**
 * Throws a RefusedControlError (`workdir`) unless the working directory is on the scratch, inside a
 * grant, or an existing directory of the image reached without symlinks.
 */
export function checkWorkdir(spec: SandboxSpec): void {
  const workdir = spec.workdir;
  // Why refuse rather than create: the root is the read-only image; a directory made there would be
  // an empty one the command can't write to, a change of the image's view nobody asked for.
  if (under(workdir, '/tmp') || spec.mounts.some((m) => under(workdir, m.sandboxPath))) return;
  if (lstatInImage(spec.image.rootfs, workdir, 'workdir')?.isDirectory() !== true) {
    throw new RefusedControlError('workdir', `${workdir} is not a directory in the image (use /tmp or a directory below it, a granted mount, or an existing directory)`);
  }
}
