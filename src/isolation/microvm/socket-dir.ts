/**
 * A directory of the VMM uid's own, bound into a jail (the file servers', a capturing VMM's) so
 * that the jailed process can listen on or connect to a socket there, and nothing more.
 */
import { chownSync, lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync } from 'node:fs';

/** Creates `dir` (0700, owned by `uid`) in the root-owned, traversable-only sandbox directory. */
export function makeSocketDir(dir: string, uid: number): string {
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, uid, uid);
  return dir;
}

/**
 * Removes the directory's sockets and the directory once its connection is made. Why: the jailed
 * process keeps the directory bound for its life, and a removed directory takes no new file, so a
 * process taken over later can't fill the host's run directory (a tmpfs) through it. Anything
 * else in it stays, and goes with the sandbox directory at teardown.
 */
export function retireSocketDir(dir: string): void {
  try {
    for (const name of readdirSync(dir)) if (lstatSync(`${dir}/${name}`).isSocket()) rmSync(`${dir}/${name}`, { force: true });
    rmdirSync(dir);
  } catch {
    // Gone already, or holding something else: left to the teardown.
  }
}
