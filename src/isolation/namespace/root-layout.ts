/**
 * A read-only root for a `namespace` sandbox whose grants need mount points the image lacks
 * (`--mount ./data:/data`). The image is bound read-only at `/` otherwise; a mount point can't be
 * made in it (read-only, and shared by every sandbox). Here `/` is bubblewrap's own tmpfs instead:
 * each entry of the image's top directory is bound read-only into it (symlinks recreated), and
 * every image directory on the way to a missing target is rebuilt the same way, one level down,
 * so bubblewrap can make the mount point; `/` is remounted read-only once every mount is in place.
 * What the sandbox sees is the image, plus the empty mount points.
 */
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { RefusedControlError } from '../../host/control-error.ts';

/** Directories of the image that need rebuilding: every existing ancestor of a missing target. */
function rebuiltDirs(rootfs: string, missing: readonly string[]): Set<string> {
  const dirs = new Set<string>(['/']);
  for (const target of missing) {
    const parts = target.split('/').filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      const dir = `/${parts.slice(0, i).join('/')}`;
      let isDir: boolean;
      try {
        isDir = lstatSync(`${rootfs}${dir}`).isDirectory();
      } catch {
        break;
      }
      // Checked before (mount-targets.ts); refused again rather than followed if it changed since.
      if (!isDir) throw new RefusedControlError('filesystem_access', `${dir} is not a directory in the image: can't mount at ${target}`);
      dirs.add(dir);
    }
  }
  return dirs;
}

const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * bubblewrap arguments that build `/` from the image with room for `missing` mount points, to use
 * instead of `--ro-bind ROOTFS /` (buildBwrapArgs adds `--remount-ro /` after its last mount).
 * Reads the image's directories on the way; an entry that is neither a directory, a regular file
 * nor a symlink is left out (an image holds none).
 */
export function rootWithMountPoints(rootfs: string, missing: readonly string[]): string[] {
  const rebuilt = rebuiltDirs(rootfs, missing);
  const args: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(`${rootfs}${dir}`).sort()) {
      const path = join(dir, name);
      const st = lstatSync(`${rootfs}${path}`);
      if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(`${rootfs}${path}`), path);
      else if (rebuilt.has(path)) {
        // Why the image's mode: the rebuilt directory must allow exactly what the image's did.
        args.push('--perms', (st.mode & 0o7777).toString(8).padStart(4, '0'), '--dir', path);
        walk(path);
      } else if (st.isDirectory() || st.isFile()) args.push('--ro-bind', `${rootfs}${path}`, path);
    }
  };
  walk('/');
  // The mount points themselves (and any missing directory above them) bubblewrap makes when it binds.
  return args;
}
