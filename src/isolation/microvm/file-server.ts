/**
 * A microvm's grants reach its guest over virtio-fs: one virtiofsd per grant, serving the pinned
 * host path to QEMU's `vhost-user-fs-device`. Why virtio-fs and not 9p: the guest kernel is
 * Debian's cloud kernel, built without 9p (CONFIG_NET_9P is unset) and with virtiofs; and a
 * file server apart from QEMU is one more process between the guest and the host's files.
 *
 * The server runs under the same floor as the VMM, and as the VMM's own leased uid: setpriv drops
 * it to that uid before bubblewrap gives it a user namespace in which only that uid exists (as
 * 65534, the sandbox user), a root holding only /usr, its own pid, network, IPC and UTS
 * namespaces, the grant bound at /share (read-only unless writable; a file grant is the file `f`
 * in an otherwise empty /share), and the file server seccomp filter (no set-id modes, T26). So it
 * reaches only what the leased uid could (T23), follows no host link to reach it (the pinned
 * descriptor, T24), and every file the guest creates is the leased uid's. It reports no xattrs, so
 * no file capability can be set through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { makeSocketDir, retireSocketDir } from './socket-dir.ts';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AGENT_BINARY_NAME } from '../../agent/build.ts';
import { ControlError } from '../../host/control-error.ts';
import { AGENT_MOUNT } from '../driver.ts';
import { withoutInheritedFds } from '../inherited-fds.ts';
import { libDirArgs } from './vmm-root.ts';

/** Where the grant is in the server's root. */
export const SHARE_DIR = '/share';

/** Where the server makes its vhost-user socket, in its root: a directory of the leased uid's own. */
export const SOCKET_DIR = '/sock';

/** The server's descriptors: the pinned grant and its seccomp filter (both for bubblewrap). */
export const FILE_SERVER_FD = Object.freeze({ park: 3, grant: 4, seccomp: 5 });
/** Descriptors 0 .. this-1 reach the server; every other one is closed before it runs. */
export const FILE_SERVER_FD_COUNT = 6;

/** Longest a server may take to make its socket. */
const SOCKET_WAIT_MS = 10_000;

/** Host memory a file server may add to the VMM's cgroup (its thread pool and buffers). */
export const FILE_SERVER_MB = 32;

/** A virtiofsd on this host: Debian 13's Rust one, or QEMU 7.2's own (Debian 12). */
export interface FileServerBinary {
  path: string;
  flavour: 'rust' | 'c';
}

const CANDIDATES: readonly FileServerBinary[] = [
  { path: '/usr/libexec/virtiofsd', flavour: 'rust' },
  { path: '/usr/lib/qemu/virtiofsd', flavour: 'c' },
];

/** The host's virtiofsd, or undefined. */
export function findFileServer(): FileServerBinary | undefined {
  return CANDIDATES.find((c) => {
    try {
      accessSync(c.path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The server's own arguments. Why these: its socket in its own directory (the controller connects
 * to it and hands QEMU the connection), chroot into the share (its user namespace has no other
 * root to give), no caching (the host's files are the truth), no xattrs (no file capabilities),
 * its file limit left as inherited.
 */
export function fileServerArgs(binary: FileServerBinary): string[] {
  const socket = `${SOCKET_DIR}/fs.sock`;
  if (binary.flavour === 'rust') {
    return [`--socket-path=${socket}`, `--shared-dir=${SHARE_DIR}`, '--sandbox=chroot', '--cache=never', '--rlimit-nofile=0'];
  }
  return [`--socket-path=${socket}`, '-o', `source=${SHARE_DIR}`, '-o', 'sandbox=chroot', '-o', 'cache=none', '-o', 'no_xattr', '--rlimit-nofile=0'];
}

/**
 * bubblewrap's arguments for the server's jail, up to the `--` before the server. Run as the
 * leased uid: the user namespace maps that uid alone, as the sandbox user.
 */
export function fileServerJailArgs(writable: boolean, file: boolean, socketDir: string): string[] {
  const bind = [writable ? '--bind-fd' : '--ro-bind-fd', String(FILE_SERVER_FD.grant)];
  return [
    '--unshare-user', '--uid', '65534', '--gid', '65534',
    '--unshare-net', '--unshare-ipc', '--unshare-uts', '--unshare-pid',
    '--die-with-parent', '--new-session',
    // Why every capability: they hold only in its own user namespace, over the leased uid's files; it drops most itself.
    '--cap-add', 'ALL',
    '--ro-bind', '/usr', '/usr',
    ...libDirArgs(),
    '--proc', '/proc',
    '--dev', '/dev',
    // Its lock file (QEMU's virtiofsd keeps it under /var/run/virtiofsd).
    '--dir', '/var', '--tmpfs', '/var/run',
    ...(file ? ['--dir', SHARE_DIR, ...bind, `${SHARE_DIR}/f`] : [...bind, SHARE_DIR]),
    '--bind', socketDir, SOCKET_DIR,
    '--seccomp', String(FILE_SERVER_FD.seccomp),
    '--chdir', '/',
  ];
}

/** What starting a sandbox's file servers needs. */
export interface FileServerLaunch {
  binary: FileServerBinary;
  tools: { sh: string; setpriv: string; bwrap: string; fdCloser: string };
  uid: number;
  /** The sandbox's directory (root's, traversable only): each server's socket directory is made in it. */
  dir: string;
  /** The file server filter (FILE_SERVER_PROFILE, compiled). */
  seccompBpf: Buffer;
  /** Each server joins the sandbox's cgroup before it runs. */
  addToCgroup: (pid: number) => Promise<void>;
}

/** A grant to serve. */
export interface ServedGrant {
  fd: number;
  writable: boolean;
  file: boolean;
}

/** Started servers: the connected sockets QEMU gets (in grant order), and their processes. */
export interface FileServers {
  vmmFds: number[];
  /** The servers' own words (stderr), for a failed boot's report. */
  tail(): string;
  /** Closes the controller's copies of the sockets (once QEMU holds its own). */
  closeSockets(): void;
}

/** The launcher's park: it waits for one line on fd 3 (sent once it is in the cgroup), then runs the rest. */
export const PARK_SCRIPT = 'read -r _ <&3 && exec 3<&- && exec "$@"';

/**
 * Starts one file server per grant, each in the sandbox's cgroup before it runs, and connects to
 * each the socket QEMU gets. On failure, whatever was started is killed and the error thrown.
 */
export async function startFileServers(launch: FileServerLaunch, grants: readonly ServedGrant[]): Promise<FileServers> {
  const children: ChildProcess[] = [];
  const clients: Socket[] = [];
  let tail = '';
  const closeSockets = () => {
    for (const client of clients.splice(0)) client.destroy();
  };
  try {
    for (const [i, grant] of grants.entries()) {
      // The server's socket directory: the leased uid's alone (0700), inside the traversable-only sandbox directory.
      const socketDir = makeSocketDir(`${launch.dir}/fs${i}`, launch.uid);
      const inner = [`${AGENT_MOUNT}/${AGENT_BINARY_NAME}`, '--close-fds-from', String(FILE_SERVER_FD.grant), '--', launch.binary.path, ...fileServerArgs(launch.binary)];
      const argv = withoutInheritedFds(launch.tools.fdCloser, FILE_SERVER_FD_COUNT, [
        launch.tools.sh, '-c', PARK_SCRIPT, 'airlock-fs',
        // Why: the VMM's own unprivileged uid (its user namespace maps only that uid), and it dies with the controller.
        launch.tools.setpriv, '--reuid', String(launch.uid), '--regid', String(launch.uid), '--clear-groups', '--pdeathsig', 'KILL', '--',
        launch.tools.bwrap, ...fileServerJailArgs(grant.writable, grant.file, socketDir),
        // Why the agent first: the grant's descriptor, still open after bubblewrap bound it, would lead out of the chroot.
        '--ro-bind', dirname(launch.tools.fdCloser), AGENT_MOUNT, '--', ...inner,
      ]);
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', grant.fd, 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C' } });
      children.push(child);
      for (const stream of child.stdio) (stream as Readable | null)?.on('error', () => undefined);
      child.stderr?.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString('utf8')).slice(-2048)));
      const stdio = child.stdio as unknown as (Writable | null)[];
      stdio[FILE_SERVER_FD.seccomp]?.end(launch.seccompBpf);
      if (child.pid === undefined) throw new ControlError('filesystem_access', `the file server for grant ${i} could not be started`);
      await launch.addToCgroup(child.pid);
      stdio[FILE_SERVER_FD.park]?.end('1\n');
      clients.push(await connectWhenListening(`${socketDir}/fs.sock`, child, () => tail));
      retireSocketDir(socketDir);
    }
  } catch (err) {
    closeSockets();
    for (const child of children) child.kill('SIGKILL');
    throw err;
  }
  return { vmmFds: clients.map((client) => (client as unknown as { _handle: { fd: number } })._handle.fd), tail: () => tail, closeSockets };
}

/** Connects to the server's socket once it listens; fails naming the control if it exits or takes too long. */
async function connectWhenListening(path: string, child: ChildProcess, tail: () => string): Promise<Socket> {
  const deadline = Date.now() + SOCKET_WAIT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new ControlError('filesystem_access', `the file server exited before it listened: ${tail().trim().split('\n').slice(-3).join(' | ')}`);
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const client = connect(path);
      client.once('connect', () => resolve(client));
      client.once('error', () => resolve(undefined));
    });
    if (socket !== undefined) return socket;
    if (Date.now() > deadline) throw new ControlError('filesystem_access', `the file server did not listen within ${SOCKET_WAIT_MS} ms`);
    await sleep(5);
  }
}
