/**
 * What the sandbox's own unprivileged host uid can reach of each granted path, asked of the
 * kernel: a short child process, spawned with that uid and gid (no supplementary groups, empty
 * environment), walks every grant without following links, opens the final inode for the access
 * the grant needs, scans granted directories for unix sockets, and prints what it reached.
 *
 * The kernel decides (mode bits, ACLs, LSMs, read-only mounts), with exactly the credentials the
 * sandbox will have; the controller never changes its own uid (that would apply to threadpool I/O
 * in flight too). The child's answer names inodes (dev:ino, mode, owner), which the controller's
 * own no-follow walk must then reach again (see ../mount-pins.ts).
 */
import { spawn } from 'node:child_process';
import { ControlError } from '../../host/control-error.ts';
import { findSocket, walkNoFollow, type Fs } from './no-follow.ts';

/** One grant, as the child checks it. */
export interface GrantQuery {
  path: string;
  writable: boolean;
}

/** The identity of an inode, as compared between the child's walk and the controller's. */
export interface InodeIdentity {
  dev: string;
  ino: string;
  mode: number;
  uid: number;
  gid: number;
}

/** What the sandbox's uid reached for one grant. */
export type GrantView =
  | { ok: true; inode: InodeIdentity; kind: 'file' | 'dir' }
  /** Missing, unreachable, or without the access the grant needs: deliberately one answer. */
  | { ok: false; why: 'inaccessible' }
  /** A component the uid could see is a symbolic link. */
  | { ok: false; why: 'symlink'; component: string }
  /** Reached, but neither a regular file nor a directory (a socket, fifo or device). */
  | { ok: false; why: 'kind'; type: string }
  /** A directory tree with a socket, an unlistable directory, or too many entries to tell. */
  | { ok: false; why: 'socket' | 'unlistable'; at: string }
  | { ok: false; why: 'too-many'; entries: number };

/** An unprivileged host identity; supplementary groups are always dropped. */
export interface HostUser {
  uid: number;
  gid: number;
}

/** Most directory entries looked at below one granted directory before giving up (and refusing). */
export const SOCKET_SCAN_MAX_ENTRIES = 50_000;
/** Longest the check may take (a scan of the bound on a cold cache takes a few seconds). */
const CHECK_TIMEOUT_MS = 20_000;

/**
 * The child's whole program, for one grant. Self-contained like the functions it is given, since
 * it is serialized into the child; it never throws (every failure is an answer).
 */
export function viewGrant(fs: Fs, walk: typeof walkNoFollow, scan: typeof findSocket, query: GrantQuery, maxEntries: number): GrantView {
  const O_RDONLY = 0;
  const O_WRONLY = 1;
  const O_NOCTTY = 0o400;
  const O_NONBLOCK = 0o4000;
  const O_CLOEXEC = 0o2000000;
  const O_DIRECTORY = 0o200000;
  const W_OK = 2;
  const X_OK = 1;
  const reached = walk(fs, query.path);
  if (!reached.ok) return reached.symlink === undefined ? { ok: false, why: 'inaccessible' } : { ok: false, why: 'symlink', component: reached.symlink };
  // Re-opening through the descriptor checks the final inode only: its parents were checked by the walk.
  const self = `/proc/self/fd/${reached.fd}`;
  try {
    const st = fs.fstatSync(reached.fd, { bigint: true });
    const inode = { dev: String(st.dev), ino: String(st.ino), mode: Number(st.mode), uid: Number(st.uid), gid: Number(st.gid) };
    if (st.isFile()) {
      fs.closeSync(fs.openSync(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
      // Opening for writing without O_TRUNC changes nothing; it asks the kernel (and LSMs) the real question.
      if (query.writable) fs.closeSync(fs.openSync(self, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
      return { ok: true, inode, kind: 'file' };
    }
    if (!st.isDirectory()) {
      const type = st.isSocket() ? 'a unix socket' : st.isFIFO() ? 'a fifo' : 'a device or special file';
      return { ok: false, why: 'kind', type };
    }
    fs.closeSync(fs.openSync(self, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    fs.accessSync(self, query.writable ? W_OK | X_OK : X_OK);
    const found = scan(fs, reached.fd, maxEntries);
    if (found.found === 'socket' || found.found === 'unlistable') return { ok: false, why: found.found, at: found.at };
    if (found.found === 'too-many') return { ok: false, why: 'too-many', entries: maxEntries };
    return { ok: true, inode, kind: 'dir' };
  } catch {
    return { ok: false, why: 'inaccessible' };
  } finally {
    fs.closeSync(reached.fd);
  }
}

/** The source the child runs: the three functions above, serialized, applied to every query. */
function childProgram(queries: GrantQuery[]): string {
  return [
    `const fs = require('node:fs');`,
    `const walk = ${walkNoFollow.toString()};`,
    `const scan = ${findSocket.toString()};`,
    `const view = ${viewGrant.toString()};`,
    `const queries = ${JSON.stringify(queries)};`,
    `process.stdout.write(JSON.stringify(queries.map((q) => view(fs, walk, scan, q, ${SOCKET_SCAN_MAX_ENTRIES}))));`,
  ].join('\n');
}

/**
 * Asks the kernel, as `user`, what each grant reaches. One child for all grants of a sandbox;
 * fails closed (ControlError) when the check itself can't run.
 */
export function viewAsUser(user: HostUser, queries: GrantQuery[]): Promise<GrantView[]> {
  if (queries.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    const fail = (why: string, cause?: unknown) =>
      reject(new ControlError('filesystem_access', `cannot check the grants as the sandbox's host uid ${user.uid}: ${why}`, cause === undefined ? undefined : { cause }));
    // uid/gid make libuv drop supplementary groups too; nothing of the controller's environment goes along.
    const child = spawn(process.execPath, ['-e', childProgram(queries)], {
      uid: user.uid,
      gid: user.gid,
      env: {},
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: CHECK_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', (err) => fail(`cannot run ${process.execPath}: ${err.message}`, err));
    child.once('close', (code, signal) => {
      if (signal === 'SIGKILL') return fail(`timed out after ${CHECK_TIMEOUT_MS / 1000} s`);
      if (code !== 0) return fail(`${process.execPath} exited with ${code ?? signal}: ${stderr.trim().slice(0, 500)}`);
      let views: unknown;
      try {
        views = JSON.parse(stdout);
      } catch (err) {
        return fail(`unreadable answer: ${stdout.slice(0, 200)}`, err);
      }
      if (!Array.isArray(views) || views.length !== queries.length) return fail(`answered ${stdout.slice(0, 200)}`);
      resolve(views as GrantView[]);
    });
  });
}
