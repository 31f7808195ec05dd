/**
 * Small files only root writes and reads, in a directory only root may write: what a short-lived
 * front end (`airlock run`) remembers between runs to skip work it did before (a policy bundle
 * checked, an image manifest hashed). Each use says why what it remembers is safe to trust.
 *
 * Why the checks: a file another user could write, or a link to one, could hold a planted entry;
 * a file or directory that is not root's and private is ignored (as if absent), and writing is
 * best effort, so such a file can only save time, never decide anything on its own.
 */
import { constants, renameSync, writeFileSync } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Whether these files may be used at all: only a root process reads or writes them. */
export function isRootProcess(): boolean {
  return process.geteuid?.() === 0;
}

/** Whether `dir` is a directory (not a link) of root's that no one else may write or read. */
export async function isPrivateDir(dir: string): Promise<boolean> {
  const s = await lstat(dir).catch(() => undefined);
  return s !== undefined && s.isDirectory() && s.uid === 0 && (s.mode & 0o077) === 0;
}

/** The text of `dir/name` if the process is root and both are root's and private; undefined otherwise (or if absent). */
export async function readRootPrivate(dir: string, name: string): Promise<string | undefined> {
  if (!isRootProcess() || !(await isPrivateDir(dir))) return undefined;
  try {
    // Why O_NOFOLLOW and fstat: the file read is the file checked, never a link to another one.
    const handle = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const s = await handle.stat();
      if (!s.isFile() || s.uid !== 0 || (s.mode & 0o077) !== 0) return undefined;
      return await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Creates `dir` private (0700; its parents keep the default mode) and answers whether it is root's
 * and private now; false for a process that is not root.
 */
export async function ensurePrivateDir(dir: string): Promise<boolean> {
  if (!isRootProcess()) return false;
  try {
    // Parents keep the default mode (the state directory must stay traversable for image binds).
    await mkdir(dirname(dir), { recursive: true });
    await mkdir(dir, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return await isPrivateDir(dir);
  } catch {
    return false;
  }
}

/**
 * Writes `dir/name` (0600) whole or not at all, synchronously so that it is done before a short
 * command exits; `dir` must be private already (see ensurePrivateDir). Best effort: false when
 * it could not be written (the next run then does the work again).
 */
export function writeRootPrivate(dir: string, name: string, text: string): boolean {
  if (!isRootProcess()) return false;
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, join(dir, name));
    return true;
  } catch {
    return false;
  }
}
