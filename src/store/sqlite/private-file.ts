/**
 * The database file and its directory are private to the controller: the directory is created 0700,
 * the file 0600, both owned by the running user (root in production), and an existing one that is
 * not is refused rather than used.
 */
import { closeSync, constants, fchmodSync, lstatSync, mkdirSync, openSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../errors.ts';

function mode(stats: Stats): string {
  return (stats.mode & 0o777).toString(8).padStart(4, '0');
}

function refuseUnlessPrivate(path: string, stats: Stats, kind: 'directory' | 'file'): void {
  const uid = process.getuid?.() ?? 0;
  // Why lstat and type checks: a symlink planted at the path would redirect the store elsewhere.
  const rightType = kind === 'directory' ? stats.isDirectory() : stats.isFile();
  if (!rightType || stats.isSymbolicLink()) throw new StoreError('store_unsafe', `store ${kind} ${path} is not a plain ${kind}`);
  // Why: whoever owns the store, or can read or write it, can register keys and replay nonces.
  if (stats.uid !== uid) throw new StoreError('store_unsafe', `store ${kind} ${path} is owned by uid ${stats.uid}, not ${uid}; chown it`);
  if ((stats.mode & 0o077) !== 0) {
    throw new StoreError('store_unsafe', `store ${kind} ${path} is accessible by group or others (mode ${mode(stats)}); chmod ${kind === 'directory' ? '700' : '600'} it`);
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes sure `path`'s directory (0700) and `path` itself (0600) exist, are plain, owned by the
 * running user and private; creates what is missing. Throws StoreError('store_unsafe') otherwise.
 */
export function ensurePrivateDatabaseFile(path: string): void {
  const dir = dirname(path);
  if (lstatOrUndefined(dir) === undefined) {
    // Parents get the default mode (the state directory must stay traversable for image binds).
    mkdirSync(dirname(dir), { recursive: true });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      // Another process opening the store at the same time made it first: checked below like any other.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  refuseUnlessPrivate(dir, lstatSync(dir), 'directory');
  try {
    // Why create it here: SQLite would create it with the umask's mode; O_EXCL|O_NOFOLLOW never follows a link.
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  refuseUnlessPrivate(path, lstatSync(path), 'file');
  // SQLite creates -wal and -shm with the main file's mode and owner, so they are private too.
}
