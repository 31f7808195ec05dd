/** Looks a program up in fixed system directories (never the caller's PATH, which a user controls). */
import { accessSync, constants } from 'node:fs';

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute path of `name` in a system directory, or undefined. */
export function findExecutable(name: string): string | undefined {
  for (const dir of SYSTEM_DIRS) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      // Not here.
    }
  }
  return undefined;
}
