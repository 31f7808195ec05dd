/**
 * Post-processing of a freshly bootstrapped tree, before it is hashed: remove what a sandbox must
 * not carry or what differs between otherwise identical builds, shape the runtime's mount points,
 * and bring ownership and modes down to the store's floor (root-owned, nothing group/world
 * writable, no setuid/setgid).
 */
import { lchown, chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

/** What {@link sanitizeTree} changed, for progress output. */
export interface SanitizeReport {
  /** Entries found (and removed) directly under dev/. */
  devEntries: number;
  removedSpecial: number;
  chowned: number;
  chmodded: number;
}

/** Directories whose contents are dropped (caches, logs, apt state: host- and time-dependent). */
const EMPTIED_DIRS = ['var/cache/apt', 'var/lib/apt/lists', 'var/log'];

/** Single files dropped: per-machine identity and state that differs between builds. */
const REMOVED_FILES = [
  'etc/machine-id',
  'var/lib/dbus/machine-id',
  'var/cache/ldconfig/aux-cache',
  'var/cache/debconf/config.dat-old',
  'var/cache/debconf/templates.dat-old',
  'var/lib/dpkg/status-old',
  'var/lib/dpkg/diversions-old',
  'var/lib/dpkg/statoverride-old',
];

/** Mount points the runtimes use: they must exist (a read-only root can't grow them) and be empty. */
export const MOUNT_POINTS = ['dev', 'proc', 'sys', 'tmp', 'run', 'home', 'work', 'var/tmp'];

/**
 * Files the runtime may bind its own copy onto, replaced with fixed content: the bootstrap copies
 * the build host's resolv.conf and hostname, which would leak host details into every sandbox.
 */
const FIXED_FILES: readonly (readonly [string, string])[] = [
  ['etc/resolv.conf', ''],
  ['etc/hostname', 'sandbox\n'],
  ['etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'],
];

/**
 * lstat of `rel` under `root` after checking that no parent component is a symlink or non-directory.
 * This runs as host root: following a symlink planted by a package (say `var/log -> /var/log`)
 * would delete or create files on the host instead of in the image.
 */
async function lstatInside(root: string, rel: string): Promise<Stats | null> {
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const st = await lstat(join(root, ...parts.slice(0, i))).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return null;
      throw err;
    });
    if (i === parts.length || st === null) return st;
    if (!st.isDirectory()) throw new Error(`image tree: /${parts.slice(0, i).join('/')} is not a directory; refusing to build`);
  }
  return null;
}

/** Removes `rel` (not following it), if present. */
async function removeInside(root: string, rel: string): Promise<void> {
  if ((await lstatInside(root, rel)) !== null) await rm(join(root, rel), { recursive: true, force: true });
}

/** Removes the contents of directory `rel`; a symlink in its place is removed, never followed. */
async function emptyDir(root: string, rel: string): Promise<void> {
  const st = await lstatInside(root, rel);
  if (st === null) return;
  if (!st.isDirectory()) return removeInside(root, rel);
  const names = await readdir(join(root, rel));
  await Promise.all(names.map((n) => rm(join(root, rel, n), { recursive: true, force: true })));
}

/** Makes `rel` a plain, empty, 0755 directory, whatever it was before. */
async function plainEmptyDir(root: string, rel: string): Promise<void> {
  const st = await lstatInside(root, rel);
  // A symlink or file here would redirect the runtime's mount (T12); replace it outright.
  if (st !== null && !st.isDirectory()) await rm(join(root, rel), { force: true });
  if (st === null || !st.isDirectory()) await mkdir(join(root, rel), { recursive: true, mode: 0o755 });
  await emptyDir(root, rel);
  await chmod(join(root, rel), 0o755);
}

async function normalize(root: string, rel: string, report: SanitizeReport): Promise<void> {
  const abs = rel === '' ? root : join(root, rel);
  const st = await lstat(abs);
  if (!st.isDirectory() && !st.isFile() && !st.isSymbolicLink()) {
    // Device nodes, fifos and sockets: the runtime provides /dev; nothing else needs them.
    await rm(abs, { force: true });
    report.removedSpecial++;
    return;
  }
  if (st.uid !== 0 || st.gid !== 0) {
    // Image uids/gids name unrelated accounts on the host; root-only ownership leaks nothing.
    await lchown(abs, 0, 0);
    report.chowned++;
  }
  if (!st.isSymbolicLink()) {
    // Strip setuid/setgid and group/other write; chown may already have cleared setuid bits.
    const want = st.mode & 0o7777 & ~0o6022;
    const now = (await lstat(abs)).mode & 0o7777;
    if (now !== want) {
      await chmod(abs, want);
      report.chmodded++;
    }
  }
  if (st.isDirectory()) {
    const names = await readdir(abs);
    await Promise.all(names.map((n) => normalize(root, rel === '' ? n : `${rel}/${n}`, report)));
  }
}

/** Applies every post-processing step to the tree at `root` (which must be a bootstrapped rootfs). */
export async function sanitizeTree(root: string): Promise<SanitizeReport> {
  const dev = await lstatInside(root, 'dev');
  const devEntries = dev?.isDirectory() === true ? (await readdir(join(root, 'dev'))).length : 0;
  for (const dir of EMPTIED_DIRS) await emptyDir(root, dir);
  for (const file of REMOVED_FILES) await removeInside(root, file);
  for (const dir of MOUNT_POINTS) await plainEmptyDir(root, dir);
  for (const [file, content] of FIXED_FILES) {
    // Remove first and create exclusively: writing would follow a symlink planted at this path.
    await removeInside(root, file);
    await writeFile(join(root, file), content, { mode: 0o644, flag: 'wx' });
  }
  const report: SanitizeReport = { devEntries, removedSpecial: 0, chowned: 0, chmodded: 0 };
  await normalize(root, '', report);
  return report;
}
