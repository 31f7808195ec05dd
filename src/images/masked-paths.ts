/**
 * T12 (poisoned rootfs, CVE-2025-31133 class): refuse an image in which a path the runtime mounts
 * over or masks is a symlink (or has a symlinked parent), or is not of the shape the runtime expects.
 * A runtime that bind-mounts /dev/null onto an image's `dev/null` that is really a symlink to
 * `/proc/sys/kernel/core_pattern` would hand the sandbox a writable host file; checking here, before
 * any mount, closes that whole class. Only lstat is used: nothing is ever followed.
 */
import type { Stats } from 'node:fs';
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ControlError } from '../host/control-error.ts';

/** What a checked path may be, besides absent. */
export type MaskedKind = 'dir' | 'file' | 'absent';

/**
 * Paths (relative to the image root) the runtimes mount over or mask, with the shape each may have.
 * - `dir`: a plain directory or absent (mount points: tmpfs, proc, sysfs, devpts, binds).
 * - `file`: a regular file or absent (files the runtime may bind its own copy onto).
 * - `absent`: must not exist at all (device nodes come from the runtime's own /dev, never the image).
 */
export const MASKED_PATHS: readonly (readonly [string, MaskedKind])[] = [
  ['dev', 'dir'],
  ['dev/null', 'absent'],
  ['dev/zero', 'absent'],
  ['dev/full', 'absent'],
  ['dev/random', 'absent'],
  ['dev/urandom', 'absent'],
  ['dev/tty', 'absent'],
  ['dev/ptmx', 'absent'],
  ['dev/pts', 'dir'],
  ['dev/shm', 'dir'],
  ['dev/mqueue', 'dir'],
  ['proc', 'dir'],
  ['sys', 'dir'],
  ['tmp', 'dir'],
  ['run', 'dir'],
  ['home', 'dir'],
  ['work', 'dir'],
  ['var/tmp', 'dir'],
  ['etc/resolv.conf', 'file'],
  ['etc/hosts', 'file'],
  ['etc/hostname', 'file'],
  ['etc/passwd', 'file'],
  ['etc/group', 'file'],
];

function describe(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  return 'a device node, fifo or socket';
}

function refuse(path: string, why: string): never {
  throw new ControlError('image', `poisoned rootfs: /${path} ${why}; refusing to start`);
}

// Synchronous: about 30 lstat calls on directory entries the kernel has cached take tens of
// microseconds together, less than the promise and thread-pool round trips of asynchronous ones
// cost the event loop (this runs on every sandbox start).
function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ControlError('image', `cannot inspect ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Checks every path in {@link MASKED_PATHS} (and each of its parents, and the image root itself)
 * with lstat; throws ControlError('image') naming the first offending path. A handful of lstat
 * calls: cheap enough to run on every image resolution, not only at build.
 */
export function checkMaskedPaths(rootfs: string): void {
  const root = lstatOrNull(rootfs);
  // The root is mounted as / itself: a symlink there would redirect the whole sandbox.
  if (root === null) throw new ControlError('image', `image root ${rootfs} does not exist; refusing to start`);
  if (!root.isDirectory()) refuse('', `(image root ${rootfs}) is ${describe(root)}, not a directory`);
  const seen = new Map<string, Stats | null>();
  const stat = (rel: string): Stats | null => {
    if (!seen.has(rel)) seen.set(rel, lstatOrNull(join(rootfs, rel)));
    return seen.get(rel) ?? null;
  };
  for (const [path, kind] of MASKED_PATHS) {
    const parts = path.split('/');
    let parentMissing = false;
    // Parents first, and a path is stated only below a plain directory: lstat follows symlinks in
    // the parents, and nothing is ever followed. A symlinked `dev` makes `dev/null` resolve anywhere.
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      const st = stat(parent);
      if (st === null) {
        parentMissing = true;
        break;
      }
      if (!st.isDirectory()) refuse(parent, `is ${describe(st)}, but /${path} lies under it`);
    }
    if (parentMissing) continue;
    const st = stat(path);
    if (st === null) continue;
    if (kind === 'absent') refuse(path, `is ${describe(st)}; the runtime supplies its own, the image must not`);
    if (kind === 'dir' && !st.isDirectory()) refuse(path, `is ${describe(st)}, not a plain directory`);
    if (kind === 'file' && !st.isFile()) refuse(path, `is ${describe(st)}, not a regular file`);
  }
}
