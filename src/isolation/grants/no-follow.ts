/**
 * Walking a granted path without ever following a symbolic link, and looking below a granted
 * directory for unix sockets.
 *
 * Node has no openat(), but opening `/proc/self/fd/<dir>/<name>` with O_NOFOLLOW is
 * openat(dir, name, O_NOFOLLOW) in effect: the descriptor's magic link jumps to the directory it
 * names (it is not a lookup of any name), and only `name` is then looked up, without following it.
 *
 * These functions are written to be serialized: they use nothing but their parameters (no
 * imports, no closures), because the same code runs twice for every grant — as root in the
 * controller, and as the sandbox's own host uid in a short child process (see as-sandbox-user.ts).
 */
import type { accessSync, closeSync, Dirent, fstatSync, openSync, readdirSync } from 'node:fs';

/** What these functions use of `node:fs`, passed in so that they stay self-contained. */
export interface Fs {
  accessSync: typeof accessSync;
  closeSync: typeof closeSync;
  fstatSync: typeof fstatSync;
  openSync: typeof openSync;
  readdirSync: typeof readdirSync;
}

/** Where a walk ended. */
export type Walk =
  /** Reached without a link: an O_PATH descriptor of the final component (close it). */
  | { ok: true; fd: number }
  /** `component` (a path prefix of the walked path) is a symbolic link. */
  | { ok: false; symlink: string }
  /** Some component is missing, not a directory, or can't be searched by the walking uid. */
  | { ok: false; symlink?: undefined };

/**
 * Opens `path` (absolute, normalized) one component at a time from `/`, never following a link.
 * Every lookup is checked with the calling process's own credentials, so a walk run as an
 * unprivileged uid reaches only what that uid could reach itself.
 */
export function walkNoFollow(fs: Fs, path: string): Walk {
  const O_PATH = 0o10000000;
  const O_NOFOLLOW = 0o400000;
  const O_CLOEXEC = 0o2000000;
  const O_DIRECTORY = 0o200000;
  const names = path.split('/').filter((name) => name.length > 0);
  // "." and ".." are no links but would make the walked path differ from the checked one.
  if (!path.startsWith('/') || names.some((name) => name === '.' || name === '..')) return { ok: false };
  let fd = fs.openSync('/', O_PATH | O_DIRECTORY | O_CLOEXEC);
  let walked = '';
  try {
    for (const name of names) {
      const next = fs.openSync(`/proc/self/fd/${fd}/${name}`, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      fs.closeSync(fd);
      fd = next;
      walked += `/${name}`;
      // O_PATH|O_NOFOLLOW opens a link itself rather than failing: it must go no further.
      if (fs.fstatSync(fd).isSymbolicLink()) {
        fs.closeSync(fd);
        return { ok: false, symlink: walked };
      }
    }
  } catch {
    try {
      fs.closeSync(fd);
    } catch {
      // Closed already (a link was found just before a failing close).
    }
    return { ok: false };
  }
  return { ok: true, fd };
}

/** What a socket scan found below a directory. */
export type SocketScan =
  | { found: 'none'; entries: number }
  /** A socket, at `at` relative to the scanned directory. */
  | { found: 'socket'; at: string }
  /** A directory the scanning uid can enter but not list: sockets inside can't be ruled out. */
  | { found: 'unlistable'; at: string }
  /** More than the bound's entries: the scan stopped without an answer. */
  | { found: 'too-many'; entries: number };

/**
 * Looks for unix sockets at or below the directory open as `dirFd`, without following links,
 * through at most `maxEntries` directory entries. Run as the sandbox's uid, it sees exactly the
 * directories that uid can list, and stops at the first one it can enter but not list (a socket
 * in there could still be connected to by name).
 */
export function findSocket(fs: Fs, dirFd: number, maxEntries: number): SocketScan {
  const O_RDONLY = 0;
  const O_NOFOLLOW = 0o400000;
  const O_CLOEXEC = 0o2000000;
  const O_DIRECTORY = 0o200000;
  const X_OK = 1;
  let entries = 0;
  const visit = (fd: number, at: string): SocketScan | undefined => {
    let list: Dirent[];
    try {
      list = fs.readdirSync(`/proc/self/fd/${fd}`, { withFileTypes: true });
    } catch {
      return { found: 'unlistable', at: at === '' ? '.' : at };
    }
    for (const entry of list) {
      entries += 1;
      if (entries > maxEntries) return { found: 'too-many', entries };
      const rel = at === '' ? entry.name : `${at}/${entry.name}`;
      if (entry.isSocket()) return { found: 'socket', at: rel };
      if (!entry.isDirectory()) continue;
      let sub: number;
      try {
        sub = fs.openSync(`/proc/self/fd/${fd}/${entry.name}`, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      } catch {
        // Not listable: it still matters if it can be entered (a socket inside is reachable by name).
        try {
          fs.accessSync(`/proc/self/fd/${fd}/${entry.name}`, X_OK);
        } catch {
          continue;
        }
        return { found: 'unlistable', at: rel };
      }
      try {
        const inner = visit(sub, rel);
        if (inner !== undefined) return inner;
      } finally {
        fs.closeSync(sub);
      }
    }
    return undefined;
  };
  return visit(dirFd, '') ?? { found: 'none', entries };
}
