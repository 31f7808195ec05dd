/**
 * Checks, before anything starts, that every grant's target and the working directory can exist
 * inside a read-only image root: under /tmp (fresh scratch, created on demand), or an existing
 * directory/file of the image reached without symlinks. Otherwise the runtime would fail half-way
 * (or, worse, have to write into the shared image to make a mount point).
 */
import { lstatSync, type Stats } from 'node:fs';
import { type SandboxSpec } from './driver.ts';
import { RefusedControlError } from '../host/control-error.ts';

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/** lstat of `path` inside `rootfs`, refusing symlinks on the way; null when absent. */
function lstatInImage(rootfs: string, path: string): Stats | null {
  let st: Stats | null = null;
  let rel = '';
  for (const part of path.split('/').filter(Boolean)) {
    rel = `${rel}/${part}`;
    try {
      st = lstatSync(`${rootfs}${rel}`);
    } catch {
      return null;
    }
    if (st.isSymbolicLink()) throw new RefusedControlError('filesystem_access', `${rel} is a symlink in the image; can't mount or work at ${path}`);
  }
  return st;
}

/** Throws a ControlError naming the first grant target or workdir that can't be used. */
export function checkMountTargets(spec: SandboxSpec, hostIsDir: boolean[]): void {
  spec.mounts.forEach((mount, i) => {
    if (under(mount.sandboxPath, '/tmp')) return;
    const st = lstatInImage(spec.image.rootfs, mount.sandboxPath);
    if (st === null) {
      throw new RefusedControlError('filesystem_access', `${mount.sandboxPath} does not exist in the image: mount under /tmp or at an existing directory`);
    }
    if (st.isDirectory() !== (hostIsDir[i] ?? true)) {
      throw new RefusedControlError('filesystem_access', `${mount.sandboxPath} is a ${st.isDirectory() ? 'directory' : 'file'} in the image but the granted path is not`);
    }
  });
  const workdir = spec.workdir;
  if (workdir === '/tmp' || spec.mounts.some((m) => under(workdir, m.sandboxPath))) return;
  if (lstatInImage(spec.image.rootfs, workdir)?.isDirectory() !== true) {
    throw new RefusedControlError('workdir', `${workdir} is not a directory in the image (use /tmp, a granted mount, or an existing directory)`);
  }
}
