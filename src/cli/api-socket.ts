/**
 * The socket file of `airlock serve`'s unix-socket listener: its directory, a stale file left by a
 * controller that died, the access (mode and group) local callers get, and its removal at shutdown.
 * Every failure is a ControlError naming `api_socket`, and `airlock serve` does not start.
 */
import { chmodSync, chownSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ServiceSocketConfig } from '../config/config.ts';
import { ControlError } from '../host/control-error.ts';
import { lookupGroupId } from '../host/group-id.ts';

/** The control every refusal here names. */
export const API_SOCKET_CONTROL = 'api_socket';

/** How long a probe of an existing socket waits for an answer before counting it as live. */
const PROBE_TIMEOUT_MS = 1_000;

/** What a bound socket file was given. */
export interface SocketAccess {
  mode: number;
  /** The group given `mode`'s group bits; undefined when the socket is root-only. */
  group: string | undefined;
  /** The file's inode: removal at shutdown leaves alone a file another server has put there since. */
  ino: number;
}

/**
 * Makes the socket's directory (0755, owned by this process's user) and removes a stale socket:
 * one nobody answers on. Refuses a path that is not a socket, or one another server answers on.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new ControlError(API_SOCKET_CONTROL, `cannot create ${dir} for the unix socket: ${(err as Error).message}`, { cause: err });
  }
  const st = lstatSync(dir);
  // Why: whoever can write the directory can replace the socket with one of their own and read callers' requests.
  if (st.isSymbolicLink() || !st.isDirectory() || st.uid !== ownUid() || (st.mode & 0o022) !== 0) {
    throw new ControlError(API_SOCKET_CONTROL, `${dir} must be a directory owned by uid ${ownUid()} that no one else can write (it is uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8)}): refusing to put the socket there`);
  }
  let existing;
  try {
    existing = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ControlError(API_SOCKET_CONTROL, `cannot inspect ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!existing.isSocket()) throw new ControlError(API_SOCKET_CONTROL, `${path} exists and is not a socket: refusing to replace it (remove it or set service.socket.path)`);
  if (await answers(path)) throw new ControlError(API_SOCKET_CONTROL, `another server answers on ${path} (is airlock serve already running?): refusing to start`);
  // Left by a controller that died: nothing listens, so nothing is taken from anyone.
  unlinkSync(path);
}

/**
 * Gives the bound socket its mode and group. Without the group the socket stays root-only (0600)
 * and a warning says how to create the group.
 */
export async function applySocketAccess(path: string, config: ServiceSocketConfig, logger: Logger): Promise<SocketAccess> {
  try {
    // Root-only first: the group is given access only once it is known to exist.
    chmodSync(path, 0o600);
    const gid = (config.mode & 0o070) === 0 ? undefined : await lookupGroupId(config.group);
    if ((config.mode & 0o070) !== 0 && gid === undefined) {
      logger.warn(
        { socket: path, group: config.group },
        `group "${config.group}" does not exist, so the unix socket ${path} is root-only (mode 0600). To let users call the API through it: ` +
          `groupadd --system ${config.group} && usermod -aG ${config.group} USER, then restart airlock serve`,
      );
      return { mode: 0o600, group: undefined, ino: lstatSync(path).ino };
    }
    if (gid !== undefined) chownSync(path, ownUid(), gid);
    chmodSync(path, config.mode);
    const dirMode = lstatSync(dirname(path)).mode;
    if (gid !== undefined && (dirMode & 0o011) === 0) {
      logger.warn({ socket: path, dir_mode: (dirMode & 0o7777).toString(8) }, `members of "${config.group}" cannot reach ${path}: its directory is not searchable by them`);
    }
    return { mode: config.mode, group: gid === undefined ? undefined : config.group, ino: lstatSync(path).ino };
  } catch (err) {
    throw new ControlError(API_SOCKET_CONTROL, `cannot set the access of ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** Removes the socket file if it is still the one this server bound (inode `ino`). */
export function removeSocketFile(path: string, ino: number): void {
  try {
    if (lstatSync(path).ino === ino) unlinkSync(path);
  } catch {
    // Already gone (Node unlinks a unix socket it closes).
  }
}

/** True when a server accepts a connection on `path`; false when nothing listens. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.setTimeout(PROBE_TIMEOUT_MS, () => {
      probe.destroy();
      // Why: a server too busy to accept is still a server; replacing its socket would cut it off.
      resolve(true);
    });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') return resolve(false);
      reject(new ControlError(API_SOCKET_CONTROL, `cannot tell whether a server answers on ${path}: ${err.message}`, { cause: err }));
    });
  });
}

function ownUid(): number {
  return process.getuid?.() ?? 0;
}
