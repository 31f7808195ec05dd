/**
 * Snapshots of a booted guest, so that a sandbox starts by restoring one instead of booting.
 *
 * What a snapshot holds: a guest of one shape (QEMU's arguments, the kernel, the initramfs and the
 * image root) that has booted its kernel, loaded its modules and opened its control channel, and
 * waits there for the controller (guest/airlock-vm-init.c, "channel open"). Nothing of any sandbox
 * is in it: the first sandbox of a shape captures it before its own handshake is sent, so its
 * secret, settings, secrets and files are not yet in the guest (see {@link captureSnapshot}). A
 * restored guest reads its own VMM's per-boot secret, and takes the host's clock and fresh entropy
 * from the handshake before anything runs.
 *
 * Guests with grants are not snapshotted: QEMU can't migrate a vhost-user virtio-fs device. A
 * guest on an attached network is: its NIC's state is in the snapshot (the guest configures it only
 * after the handshake), its tap is the restoring VMM's own descriptor.
 *
 * Snapshots are artefacts like the kernel and the roots (artefacts.ts): root-only files under
 * `${stateDir}/microvm/snapshot/`, named by the SHA-256 of the shape and checked against the
 * checksum recorded when captured; QEMU gets a read-only descriptor (`-incoming fd:`).
 */
import { chownSync, createWriteStream, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControlError } from '../../host/control-error.ts';
import { processAlive } from '../../host/process-alive.ts';
import { makeSocketDir, retireSocketDir } from './socket-dir.ts';
import { artefactDir, artefactExists, inputsKey, publishArtefact, verifyArtefact, type ArtefactStamps } from './artefacts.ts';

/** The control named when a snapshot can't be used. */
export const SNAPSHOT_CONTROL = 'microvm.snapshot';

/** Where the VMM that captures a snapshot finds the socket the controller listens on (top level: bwrap makes missing parents 0700). */
export const SNAPSHOT_SOCKET_DIR = '/snapshot';
const SOCKET_NAME = 's.sock';

/** The console line the guest init prints once it waits for the controller: the snapshot point. */
export const SNAPSHOT_POINT = 'airlock-vm-init: channel open';

/** Longest a capture may take (the guest's RAM is copied under TCG at a few hundred MiB/s). */
const CAPTURE_TIMEOUT_MS = 60_000;

/**
 * How a sandbox's VMM starts: restored from `path`, or booted, capturing `path` on the way (`release`
 * ends its claim on the capture, whatever came of it).
 */
export type SnapshotPlan = { kind: 'restore'; path: string } | { kind: 'capture'; path: string; release: () => void };

/** The guest's shape: everything that must be the same for a snapshot to restore. */
export interface GuestShape {
  qemu: string;
  args: readonly string[];
  files: { kernel: string; initrd: string; root: string };
}

/** The snapshot file for `shape` (its name: the SHA-256 of the shape, QEMU's own identity included). */
export function snapshotPath(stateDir: string, shape: GuestShape): string {
  // Why QEMU's identity: another QEMU build may read another migration format.
  const st = statSync(shape.qemu, { bigint: true });
  const key = inputsKey([
    ['qemu', `${shape.qemu}:${st.ino}:${st.size}:${st.mtimeNs}`],
    ['args', shape.args.join('\0')],
    // The artefacts are named by the SHA-256 of their inputs and verified before use.
    ['kernel', shape.files.kernel],
    ['initrd', shape.files.initrd],
    ['root', shape.files.root],
  ]);
  return `${artefactDir(stateDir, 'snapshot')}/${key}.vmstate`;
}

/**
 * The plan for a guest of `shape`: restore when a verified snapshot exists; capture when none does,
 * no start (of any controller on the host) is capturing it and it is not in `uncapturable`,
 * making room first so that at most `keep` snapshots stay; a plain boot otherwise.
 */
export async function snapshotPlan(stateDir: string, shape: GuestShape, options: { keep: number; uncapturable: ReadonlySet<string> }, stamps: ArtefactStamps): Promise<SnapshotPlan | undefined> {
  const path = snapshotPath(stateDir, shape);
  if (artefactExists(path)) {
    await verifyArtefact(path, SNAPSHOT_CONTROL, stamps);
    markUsed(path);
    return { kind: 'restore', path };
  }
  if (options.uncapturable.has(path)) return undefined;
  const release = claimCapture(path);
  if (release === undefined) return undefined;
  removeUnfinished(path);
  evictLeastUsed(dirname(path), options.keep - 1);
  return { kind: 'capture', path, release };
}

/**
 * Claims the capture of `path` with a lock file holding this process's pid. Why across processes:
 * two captures of one shape would replace the snapshot and its checksum in two steps, and a start
 * verifying in between would refuse a sound snapshot. A lock whose process is gone is taken over.
 */
function claimCapture(path: string): (() => void) | undefined {
  const lock = `${path}.capturing`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    const holder = Number(readFileSync(lock, { encoding: 'utf8', flag: 'r' }).trim());
    // Older than any capture can take: its pid may be another process's by now.
    const stale = Date.now() - statSync(lock).mtimeMs > STALE_CLAIM_MS;
    if (!stale && Number.isInteger(holder) && holder > 0 && processAlive(holder)) return undefined;
    rmSync(lock, { force: true });
  }
  return undefined;
}

/** A capture claim this old is stale whoever holds it: a boot and a capture each time out well before. */
const STALE_CLAIM_MS = 10 * 60_000;

/** Half-written captures of this shape (a controller that died capturing): only the claim's holder may remove them. */
function removeUnfinished(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  for (const name of readdirSync(dir)) if (name.startsWith(prefix) && /\.tmp(\.sha256)?$/.test(name)) rmSync(`${dir}/${name}`, { force: true });
}

/** Records a use (the checksum file's modification time; the snapshot's own identity stays as verified). */
function markUsed(path: string): void {
  try {
    const now = new Date();
    utimesSync(`${path}.sha256`, now, now);
  } catch {
    // Only the eviction order.
  }
}

/** Removes the least recently used snapshots of `dir` until at most `keep` remain (each is ~100 MB). */
function evictLeastUsed(dir: string, keep: number): void {
  const used = (name: string) => {
    try {
      return statSync(`${dir}/${name}.sha256`).mtimeMs;
    } catch {
      return 0;
    }
  };
  const snapshots = readdirSync(dir).filter((n) => n.endsWith('.vmstate')).sort((a, b) => used(a) - used(b));
  for (const name of snapshots.slice(0, Math.max(0, snapshots.length - keep))) discardSnapshot(`${dir}/${name}`);
}

/** Removes a snapshot that failed to restore: the next start of its shape captures a new one. */
export function discardSnapshot(path: string): void {
  for (const suffix of ['', '.sha256', '.stamp']) rmSync(`${path}${suffix}`, { force: true });
}

/** The socket directory a capturing VMM gets bound at {@link SNAPSHOT_SOCKET_DIR}: its uid's alone. */
export function makeSnapshotSocketDir(sandboxDir: string, uid: number): string {
  return makeSocketDir(`${sandboxDir}/snapshot`, uid);
}

/** The VMM's end of the monitor went away: it exited, or is exiting. */
class MonitorClosed extends Error {
  constructor() {
    super('the VMM closed its monitor');
  }
}

/** One QMP connection (QEMU's JSON monitor) on a socket the VMM was handed. */
class Monitor {
  private buffer = '';
  private readonly waiters: { match: (line: Record<string, unknown>) => boolean; fail: (err: Error) => void }[] = [];
  private closed = false;
  private readonly socket: Socket;

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.closed = true;
      for (const waiter of this.waiters.splice(0)) waiter.fail(new MonitorClosed());
    });
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let at;
      while ((at = this.buffer.indexOf('\n')) >= 0) {
        const text = this.buffer.slice(0, at).trim();
        this.buffer = this.buffer.slice(at + 1);
        if (text === '') continue;
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        const i = this.waiters.findIndex((w) => w.match(line));
        if (i >= 0) this.waiters.splice(i, 1);
      }
    });
  }

  /** The next line `match` accepts. */
  next(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new MonitorClosed());
      this.waiters.push({ match: (line) => (match(line) ? (resolve(line), true) : false), fail: reject });
    });
  }

  /** Runs `execute`; resolves with its return value, rejects with QEMU's error. */
  async run(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const answer = this.next((line) => 'return' in line || 'error' in line);
    this.socket.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
    const line = await answer;
    if ('error' in line) throw new Error(`${execute}: ${JSON.stringify(line['error'])}`);
    return line['return'];
  }
}

/** What a capture needs from the starting sandbox. */
export interface CaptureInput {
  /** The VMM's monitor socket (QMP). */
  monitor: Socket;
  /** The host side of {@link SNAPSHOT_SOCKET_DIR} (makeSnapshotSocketDir), and the VMM's uid. */
  socketDir: string;
  uid: number;
  /** Settles once the guest reached the snapshot point. */
  ready: Promise<void>;
  /** Settles if the VMM dies or the boot times out first. */
  failed: Promise<string>;
  path: string;
}

/**
 * Captures the guest's snapshot while it waits at the snapshot point, then lets it run on. The
 * caller sends the handshake only after this settles. Why: the VMM reads the control socket into
 * guest buffers as soon as the guest has posted them, so bytes sent earlier (the secret, the
 * secrets) could be in the snapshot. Why migrated running, not stopped: a restored guest then runs
 * at once, and no restored VMM needs a monitor. A capture that fails leaves no snapshot and is not
 * the sandbox's failure: the error is returned for the caller to report; a VMM left paused is.
 */
export async function captureSnapshot(input: CaptureInput): Promise<Error | undefined> {
  const monitor = new Monitor(input.monitor);
  const stop = input.failed.then((why) => Promise.reject(new ControlError('microvm', why)));
  // `failed` settles at the VMM's exit, long after this capture: that late rejection is no one's.
  stop.catch(() => undefined);
  // A monitor closed under us means the VMM is gone: the start fails with why it went, as any boot does.
  const orWhyItWent = async <T>(step: Promise<T>): Promise<T> => {
    try {
      return await step;
    } catch (err) {
      if (err instanceof MonitorClosed) return stop;
      throw err;
    }
  };
  await Promise.race([Promise.all([orWhyItWent(monitor.next((line) => 'QMP' in line)), input.ready]), stop]);
  const socketPath = `${input.socketDir}/${SOCKET_NAME}`;
  const server = createServer();
  let captureError: Error | undefined;
  try {
    await monitor.run('qmp_capabilities');
    await publishArtefact(input.path, SNAPSHOT_CONTROL, async (tmp) => {
      const received = new Promise<void>((resolve, reject) => {
        server.once('connection', (connection) => {
          server.close();
          const file = createWriteStream(tmp, { mode: 0o600 });
          connection.pipe(file);
          connection.once('error', reject);
          file.once('error', reject);
          file.once('finish', resolve);
        });
      });
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
      // Why the VMM's uid: it connects as that uid, to a socket in a directory only it (and root) may enter.
      chownSync(socketPath, input.uid, input.uid);
      await monitor.run('migrate', { uri: `unix:${SNAPSHOT_SOCKET_DIR}/${SOCKET_NAME}` });
      const deadline = Date.now() + CAPTURE_TIMEOUT_MS;
      for (;;) {
        const state = (await monitor.run('query-migrate')) as { status?: string; 'error-desc'?: string };
        if (state.status === 'completed') break;
        if (state.status === 'failed' || state.status === 'cancelled') throw new Error(`the migration ${state.status}: ${state['error-desc'] ?? 'no reason given'}`);
        if (Date.now() > deadline) throw new Error(`the migration did not finish within ${CAPTURE_TIMEOUT_MS} ms`);
        await sleep(20);
      }
      await received;
    });
  } catch (err) {
    captureError = err as Error;
  } finally {
    server.close();
    retireSocketDir(input.socketDir);
  }
  // A completed migration leaves the VM paused; a failed one resumes it. Either way it runs now.
  const status = (await orWhyItWent(monitor.run('query-status'))) as { running?: boolean };
  if (status.running !== true) await orWhyItWent(monitor.run('cont'));
  input.monitor.end();
  return captureError;
}
