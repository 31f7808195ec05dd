/**
 * One `microvm` sandbox: a QEMU microvm booted for it, its command run by the agent in the guest.
 *
 * The VMM runs as the sandbox's own leased host uid (never root), in a root of its own holding only
 * /usr (vmm-root.ts) and network, IPC, UTS and pid namespaces of its own (empty network: `none`;
 * restricted/full: the slot's namespace, entered with nsenter before bwrap, the guest on its tap),
 * in the sandbox's host cgroup (sized for guest RAM + VMM overhead, joined before QEMU runs),
 * under QEMU's seccomp sandbox, with only the descriptors it is handed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, mkdirSync, openSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentClient } from '../../agent/client.ts';
import { ControlError } from '../../host/control-error.ts';
import type { UidLease } from '../../host/uid-lease.ts';
import type { SandboxCgroup } from '../cgroups/index.ts';
import type { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import type { Accelerator, CommandSpec, ForensicAccess, LimitListener, LimitWatch, ProcessExit, ResourceSample, Sandbox, SandboxProcess, SandboxSpec } from '../driver.ts';
import { applyCpuQuota } from '../gvisor/cpu-quota.ts';
import { withoutInheritedFds } from '../inherited-fds.ts';
import { GuestCounterFilter, handshake, handshakeBytes, SECRET_BYTES, type GuestCounters, type GuestNetwork } from './channel.ts';
import { GUEST_TAP, qemuArgs, snapshotArgs, VMM_FD, VMM_FD_COUNT, type VmSizes } from './qemu.ts';
import { captureSnapshot, discardSnapshot, makeSnapshotSocketDir, SNAPSHOT_CONTROL, SNAPSHOT_POINT, type SnapshotPlan } from './snapshot.ts';
import { PARK_SCRIPT, startFileServers, type FileServerBinary, type FileServers } from './file-server.ts';
import { vmmGroupArgs, vmmRootArgs } from './vmm-root.ts';
import { runTeardown } from '../teardown.ts';
import { releasePins, type PinnedMount } from '../mount-pins.ts';
import { unstageGrants } from '../grants/staging.ts';
import { hostSyscallNames } from '../gvisor/seccomp-denials.ts';

/** Longest a boot may take, to the agent's READY, before start() fails and tears it down. */
export const BOOT_TIMEOUT_MS: Readonly<Record<Accelerator, number>> = { kvm: 20_000, tcg: 60_000 };
/** Host tasks of the VMM (QEMU's threads: vCPUs, I/O workers, RCU): a backstop, not the guest limit. */
export const VMM_TASKS = 256;
/** Longest stop() keeps killing what is left in the cgroup. */
const STOP_WAIT_MS = 2_000;
/** Bytes of the serial console kept to explain a failed boot. */
const CONSOLE_TAIL = 4096;

/** Host tools the launch goes through. */
export interface VmmTools {
  qemu: string;
  sh: string;
  bwrap: string;
  setpriv: string;
  /** The agent binary on the host: closes every inherited descriptor before the launch (T8). */
  fdCloser: string;
  /** mount(8) and umount(8): the grants' host binds. */
  mount: string;
  umount: string;
}

/** Everything the driver allocated for one sandbox. */
export interface MicrovmResources {
  spec: SandboxSpec;
  accel: Accelerator;
  sizes: VmSizes;
  tscKhz: number | undefined;
  tools: VmmTools;
  cgroup: SandboxCgroup;
  limitEvents: CgroupLimitEvents;
  lease: UidLease;
  /** Per-sandbox directory, root's, traversable only (the secret file lives here until the guest took it; the file servers' socket directories). */
  dir: string;
  files: { kernel: string; initrd: string; root: string };
  /**
   * Granted host paths (undefined: none), pinned and staged (checked as the VMM's uid, no symlink
   * followed; `file`: a single file, not a directory), and what serves them (file-server.ts).
   */
  grants: { shares: { pin: PinnedMount; file: boolean }[]; server: { binary: FileServerBinary; seccompBpf: Buffer } } | undefined;
  /** The controller's run directory, where the grants are staged (grants/staging.ts). */
  runDir: string;
  /** An attached network: the slot's namespace the VMM runs in, and what the guest's eth0 carries (tap.ts). */
  network: { netnsPath: string; nsenter: string; tapOpener: string; guest: GuestNetwork } | undefined;
  /**
   * Restore from a snapshot, or capture one on the way (snapshot.ts); undefined: a plain boot.
   * `settled` is told once a capture is over (its error, if it failed), or at teardown.
   */
  snapshot: { plan: SnapshotPlan; settled: (error?: Error) => void } | undefined;
  /** Drops the ownership record and the uid lease once everything else is released. */
  release: () => void;
}

/** A sandbox on the `microvm` tier. */
export class MicrovmSandbox implements Sandbox {
  readonly runtime = 'microvm' as const;
  readonly id: string;
  private readonly res: MicrovmResources;
  private child: ChildProcess | undefined;
  private closed: Promise<void> | undefined;
  private counters: GuestCounters = { oomKills: 0, pidsLimitHits: 0, memoryPeakBytes: 0, scratchFull: false, openFilesLimitHit: false };
  private stopped = false;
  private running = false;
  private destroyed: Promise<void> | undefined;
  private consoleTail = '';
  private fileServerTail: () => string = () => '';
  private grantsReleased = false;
  /** Told whenever the guest reports its cgroup's counters. */
  private readonly limitListeners = new Set<LimitListener>();
  /** QEMU's host pid (below bwrap), found in the cgroup once the guest answered. */
  private qemuPid: number | undefined;
  /** What the VMM was launched as, once it was (a restore whose snapshot was gone by then boots). */
  private launchedAs: { kind: SnapshotPlan['kind'] | undefined } | undefined;
  /** Resolved once the console shows the guest waiting at the snapshot point. */
  private snapshotPointSeen: () => void = () => undefined;

  constructor(resources: MicrovmResources) {
    this.res = resources;
    this.id = resources.spec.id;
  }

  /** The accelerator this sandbox's VMM runs under (`tcg`: emulated, no KVM). */
  get accelerator(): Accelerator {
    return this.res.accel;
  }

  /** How the guest starts (once started: how it did): restored from a snapshot, booted capturing one, or booted plainly. */
  get startsFrom(): 'snapshot' | 'boot, capturing a snapshot' | 'boot' {
    const kind = this.launchedAs === undefined ? this.res.snapshot?.plan.kind : this.launchedAs.kind;
    return kind === 'restore' ? 'snapshot' : kind === 'capture' ? 'boot, capturing a snapshot' : 'boot';
  }

  /** The VMM's host pid, once started. */
  get vmmPid(): number | undefined {
    return this.qemuPid;
  }

  async start(command: CommandSpec): Promise<SandboxProcess> {
    if (this.child !== undefined) throw new Error(`sandbox ${this.id} already started`);
    if (this.stopped || this.destroyed !== undefined) throw new Error(`sandbox ${this.id} was stopped`);
    const { res } = this;
    const secret = randomBytes(SECRET_BYTES);
    const secretFile = `${res.dir}/secret`;
    // Why a file the VMM's uid alone can read: QEMU reads it for fw_cfg; the command line is public (/proc/PID/cmdline).
    writeFileSync(secretFile, secret, { mode: 0o400, flag: 'wx' });
    chownSync(secretFile, res.lease.uid, res.lease.uid);
    const fds: number[] = [];
    let snapshotFd: number | undefined;
    let client: AgentClient;
    let greeting: Buffer | undefined;
    // Once handed to the handshake, the greeting is wiped when written (channel.ts), not before.
    let handed = false;
    let servers: FileServers | undefined;
    try {
      // Composed before the VM exists: a secret that can't be read stops the start with nothing booted.
      const grants = res.grants?.shares.map((g) => ({ sandboxPath: g.pin.mount.sandboxPath, writable: g.pin.mount.writable, file: g.file }));
      greeting = handshakeBytes(secret, res.spec.limits, res.network?.guest, { trustBundle: res.spec.trustBundle, secrets: res.spec.secrets, grants, reportDenials: res.spec.onSeccompDenial !== undefined });
      for (const path of [res.files.root, res.files.kernel, res.files.initrd, secretFile]) fds.push(openSync(path, 'r'));
      let plan = res.snapshot?.plan;
      snapshotFd = plan?.kind === 'restore' ? openSnapshot(plan.path) : undefined;
      // Removed since the create (another shape's capture made room): this guest boots instead.
      if (plan?.kind === 'restore' && snapshotFd === undefined) plan = undefined;
      const socketDir = plan?.kind === 'capture' ? makeSnapshotSocketDir(res.dir, res.lease.uid) : undefined;
      const atSnapshotPoint = new Promise<void>((resolve) => (this.snapshotPointSeen = resolve));
      servers = await this.startFileServers();
      this.launchedAs = { kind: plan?.kind };
      const child = this.launch(fds, servers?.vmmFds ?? [], plan?.kind, snapshotFd, socketDir);
      // QEMU holds its own copies now; the servers hold the grants (bound before they ran).
      servers?.closeSockets();
      this.releaseGrants();
      const socket = child.stdio[VMM_FD.control] as Socket;
      const failed = this.failure(child);
      // Join the cgroup before QEMU exists: the launcher is parked until this byte arrives.
      await res.cgroup.addProcess(child.pid as number);
      (child.stdio[VMM_FD.park] as Socket).end('1\n');
      if (plan?.kind === 'capture' && socketDir !== undefined) {
        // Before the handshake: nothing of this sandbox may reach the guest before its snapshot is taken (snapshot.ts).
        let error: Error | undefined = new Error('the capture was cut short');
        try {
          error = await captureSnapshot({ monitor: (child.stdio as unknown as Socket[])[VMM_FD.monitor] as Socket, socketDir, uid: res.lease.uid, ready: atSnapshotPoint, failed, path: plan.path });
        } finally {
          res.snapshot?.settled(error);
        }
      }
      handed = true;
      const rest = await handshake(socket, greeting, failed).catch((err: unknown) => {
        // A snapshot the VMM could not load is dropped: the next start of this shape captures a new one.
        // (QEMU says so on its stderr; a VMM killed while restoring says nothing of the kind, and its snapshot stays.)
        if (plan?.kind === 'restore' && /load of migration failed/.test(this.consoleTail)) {
          discardSnapshot(plan.path);
          throw new ControlError(SNAPSHOT_CONTROL, `the guest could not be restored from ${plan.path} (removed: the next start captures a new one): ${(err as Error).message.replace(/^microvm: /, '')}`, { cause: err });
        }
        throw err;
      });
      rmSync(secretFile, { force: true });
      this.qemuPid = res.cgroup.pids().find((pid) => exeOf(pid) === res.tools.qemu);
      const report = res.spec.onSeccompDenial;
      // The guest's ABI is x86-64, the only one booted.
      const names = report === undefined ? undefined : hostSyscallNames('x86_64');
      const filter = new GuestCounterFilter(
        (c) => {
          this.counters = c;
          for (const listener of this.limitListeners) listener.changed();
        },
        (d) => report?.({ syscall: names?.get(d.syscallNr) ?? `syscall_${d.syscallNr}`, syscallNr: d.syscallNr, pid: d.pid }),
      );
      filter.write(rest);
      socket.pipe(filter);
      // A persistent sandbox's caller talks to the agent itself: it gets the channel (READY still unread).
      if (res.spec.agentDir !== undefined) {
        this.running = true;
        res.cgroup.markCommandStart();
        applyCpuQuota(res.cgroup, res.spec.limits.cpuCores);
        return this.channelProcess(socket, filter);
      }
      client = new AgentClient({ stdin: socket, stdout: filter });
      await Promise.race([client.ready(), failed.then((why) => Promise.reject(new ControlError('microvm', why)))]);
      this.running = true;
      res.cgroup.markCommandStart();
      applyCpuQuota(res.cgroup, res.spec.limits.cpuCores);
    } catch (err) {
      await this.stop();
      // A network or secrets step that failed (the tap's attach, the guest's eth0, placing a file) is named as the control it is.
      const control = /airlock-tap-open: network\.tap:/.test(this.consoleTail) ? 'network.tap' : /airlock-vm-init: network:/.test(this.consoleTail) ? 'network.guest' : /airlock-vm-init: (secrets|trust bundle):/.test(this.consoleTail) ? 'secrets' : undefined;
      if (control !== undefined) throw new ControlError(control, (err as Error).message.replace(/^microvm: /, ''), { cause: err });
      if (err instanceof ControlError) throw err;
      throw new ControlError('microvm', `the VM did not start: ${(err as Error).message}`, { cause: err });
    } finally {
      servers?.closeSockets();
      for (const fd of fds) closeSync(fd);
      if (snapshotFd !== undefined) closeSync(snapshotFd);
      rmSync(secretFile, { force: true });
      // Why: a start that failed before the handshake still wipes the secret values the greeting carried.
      if (!handed) greeting?.fill(0);
    }
    return this.run(client, command);
  }

  /** The grants' file servers, each in the sandbox's cgroup; none without grants. */
  private async startFileServers(): Promise<FileServers | undefined> {
    const { res } = this;
    if (res.grants === undefined) return undefined;
    const { server, shares } = res.grants;
    const launch = { binary: server.binary, tools: res.tools, uid: res.lease.uid, dir: res.dir, seccompBpf: server.seccompBpf, addToCgroup: (pid: number) => res.cgroup.addProcess(pid) };
    const servers = await startFileServers(launch, shares.map(({ pin, file }) => ({ fd: pin.fd, writable: pin.mount.writable, file })));
    this.fileServerTail = servers.tail;
    return servers;
  }

  private async unstageGrants(): Promise<void> {
    if (this.res.grants === undefined) return;
    const left = await unstageGrants(this.res.runDir, this.id, this.res.tools.umount);
    if (left.length > 0) throw new ControlError('filesystem_access', `staged grants are still mounted: ${left.join(', ')}`);
  }

  /** Closes the grants' descriptors, once: a descriptor number closed twice may already be another file's. */
  private releaseGrants(): void {
    if (this.grantsReleased) return;
    this.grantsReleased = true;
    releasePins(this.res.grants?.shares.map((g) => g.pin) ?? []);
  }

  /**
   * Spawns the parked launcher: sh waits for the cgroup move, then bwrap (own root and namespaces) → setpriv (uid) → QEMU.
   * `snapshotFd`: a restore's snapshot; `snapshotSocketDir`: a capture's socket directory (snapshot.ts).
   */
  private launch(fds: number[], grantFds: readonly number[], snapshot: SnapshotPlan['kind'] | undefined, snapshotFd: number | undefined, snapshotSocketDir: string | undefined): ChildProcess {
    const { res } = this;
    const uid = String(res.lease.uid);
    const net = res.network;
    const vmm = [
      // Why nsenter and the tap first: root enters the slot's namespace and opens the tap; bwrap and QEMU choose neither.
      ...(net === undefined ? [] : [net.nsenter, `--net=${net.netnsPath}`, '--', net.tapOpener, GUEST_TAP, String(VMM_FD.tap)]),
      res.tools.bwrap, ...vmmRootArgs(res.accel === 'kvm', net !== undefined, snapshotSocketDir), '--',
      // Why: the VMM's own unprivileged uid, no capabilities, no_new_privs, and it dies with the controller.
      res.tools.setpriv, '--reuid', uid, '--regid', uid, ...vmmGroupArgs(res.accel === 'kvm'), '--no-new-privs', '--inh-caps=-all', '--bounding-set=-all', '--pdeathsig', 'KILL', '--',
      res.tools.qemu, ...qemuArgs(res.accel, res.sizes, res.tscKhz, net !== undefined, grantFds.length), ...snapshotArgs(snapshot),
    ];
    // After the tap's place (9, opened later by tap-open when attached): a restore's snapshot, a capture's monitor, then the grants' sockets.
    const keepFds = grantFds.length > 0 ? VMM_FD.firstGrant + grantFds.length : snapshot !== undefined ? VMM_FD.monitor + 1 : VMM_FD_COUNT;
    const parked = [res.tools.sh, '-c', PARK_SCRIPT, 'airlock-vmm', ...vmm];
    // Why no huge pages for a guest booting under TCG: it booted faster and with ~10 MiB less without
    // them (measured). A restore keeps them: 2 MiB pages load its 99 MB of guest pages in ~100 ms
    // less, for ~30 MiB more per VM. Under KVM they speed the guest up.
    const noThp = res.accel === 'tcg' && snapshot !== 'restore';
    const argv = withoutInheritedFds(res.tools.fdCloser, keepFds, noThp ? [res.tools.fdCloser, '--no-thp', '--', ...parked] : parked);
    const beyond = keepFds > VMM_FD_COUNT ? ['ignore' as const, snapshotFd ?? ('ignore' as const), snapshotSocketDir === undefined ? ('ignore' as const) : ('pipe' as const), ...grantFds] : [];
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe', ...fds, ...beyond],
      env: { PATH: '/usr/bin:/bin', LANG: 'C' },
    });
    this.child = child;
    this.closed = new Promise((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    for (const stream of child.stdio) (stream as Readable | null)?.on('error', () => undefined);
    const keep = (chunk: Buffer) => {
      this.consoleTail = (this.consoleTail + chunk.toString('utf8')).slice(-CONSOLE_TAIL);
      if (this.consoleTail.includes(SNAPSHOT_POINT)) this.snapshotPointSeen();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    return child;
  }

  /** Resolves with why the boot failed: the VMM exited, or the boot timed out. Never rejects. */
  private failure(child: ChildProcess): Promise<string> {
    const timeout = BOOT_TIMEOUT_MS[this.res.accel];
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(`the guest was not ready within ${timeout} ms (${this.res.accel})${this.tail()}`), timeout);
      timer.unref();
      void this.closed?.then(() => {
        clearTimeout(timer);
        resolve(`the VMM exited (${child.exitCode ?? child.signalCode}) before the guest was ready${this.tail()}`);
      });
      child.once('error', (err) => resolve(`the VMM could not be started: ${err.message}`));
    });
  }

  private tail(): string {
    const text = `${this.consoleTail.trim()}\n${this.fileServerTail().trim()}`.trim().split('\n').slice(-6).join(' | ');
    return text === '' ? '' : `: ${text}`;
  }

  /** The agent's channel as the sandbox's main process: it ends when the VM does. */
  private channelProcess(socket: Socket, filter: Readable): SandboxProcess {
    const stderr = new PassThrough();
    const exit = (this.closed ?? Promise.resolve()).then((): ProcessExit => {
      this.running = false;
      stderr.end();
      const child = this.child;
      return this.stopped ? { code: null, signal: 'SIGKILL' } : { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
    });
    return { stdout: filter, stderr, stdin: socket, exit };
  }

  private run(client: AgentClient, command: CommandSpec): SandboxProcess {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const handle = client.exec({
      argv: command.argv,
      env: this.res.spec.env,
      cwd: this.res.spec.workdir,
      stdin: command.stdin,
      onStdout: (chunk) => stdout.write(chunk),
      onStderr: (chunk) => stderr.write(chunk),
    });
    const exit = handle.exit.then(
      (result): ProcessExit => ({ code: result.code, signal: result.signal }),
      (err: unknown): ProcessExit => (this.stopped ? { code: null, signal: 'SIGKILL' } : { code: null, signal: 'SIGKILL', setupError: `microvm: ${(err as Error).message}` }),
    ).then((result) => {
      this.running = false;
      stdout.end();
      stderr.end();
      return result;
    });
    const stdin = command.stdin
      ? new Writable({
          write: (chunk: Buffer, _encoding, callback) => void handle.writeStdin(chunk).then(() => callback(), callback),
          final: (callback) => void handle.closeStdin().then(() => callback(), callback),
        })
      : null;
    return { stdout, stderr, stdin, exit };
  }

  async stats(): Promise<ResourceSample> {
    const host = this.res.cgroup.sample();
    // The workload's own counters come from the guest cgroup (reported before each EXIT); the host's
    // OOM count stays in: a VMM killed at its host limit is a memory limit hit too.
    return {
      cpuNanos: host.cpuNanos,
      memoryPeakBytes: this.counters.memoryPeakBytes,
      oomKills: this.counters.oomKills + host.oomKills,
      pidsLimitHits: this.counters.pidsLimitHits + host.pidsLimitHits,
      scratchFull: this.counters.scratchFull,
      openFilesLimitHit: this.counters.openFilesLimitHit,
    };
  }

  /**
   * The host cgroup's events (the VMM's own limits), and the guest's: its init sends COUNTERS
   * whenever the guest cgroup's pids or memory events change, and before each EXIT.
   */
  async watchLimits(listener: LimitListener): Promise<LimitWatch> {
    const host = await this.res.limitEvents.watch(this.res.cgroup, listener);
    this.limitListeners.add(listener);
    return {
      polled: host.polled,
      poll: () => host.poll(),
      close: () => {
        this.limitListeners.delete(listener);
        host.close();
      },
    };
  }

  /** The VMM: its network namespace is the sandbox's. */
  networkPid(): number | undefined {
    return this.running ? this.qemuPid : undefined;
  }

  /** The guest's scratch is in its own RAM, which the capture reads from the VMM. */
  forensicAccess(): ForensicAccess {
    return { cgroup: this.res.cgroup, scratchDir: undefined, guestRam: { pid: this.running ? this.qemuPid : undefined, bytes: this.res.sizes.guestMb * 1024 * 1024 } };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    const child = this.child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // The file servers are in the cgroup too: they go with the rest.
    await this.res.cgroup.killUntilEmpty(STOP_WAIT_MS);
  }

  destroy(): Promise<void> {
    this.destroyed ??= this.release();
    return this.destroyed;
  }

  /** Each step runs even if an earlier one failed; the first failure is reported at the end. */
  private async release(): Promise<void> {
    // A sandbox destroyed before its start captured anything frees its shape for the next start.
    this.res.snapshot?.settled();
    await runTeardown('microvm', this.id, [
      () => this.stop(),
      () => this.releaseGrants(),
      () => (this.closed === undefined ? undefined : Promise.race([this.closed, sleep(STOP_WAIT_MS, undefined, { ref: false })])),
      () => this.res.cgroup.remove(),
      // The host binds of the grants, once nothing serves them any more.
      () => this.unstageGrants(),
      () => rmSync(this.res.dir, { recursive: true, force: true }),
    ]);
    // Only a complete teardown drops the ownership record; otherwise the reaper finds the rest.
    this.res.release();
  }
}

/** The snapshot, read-only; undefined when it is gone. */
function openSnapshot(path: string): number | undefined {
  try {
    return openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** Creates the sandbox's own directory (root's, traversable, not listable). */
export function makeSandboxDir(dir: string): void {
  // Why traversable (0711), not listable: a file server's bubblewrap, as the VMM's uid, binds its
  // socket directory (the uid's own, 0700) from here; everything else in it is root's or that uid's alone.
  mkdirSync(dir, { recursive: false, mode: 0o711 });
  chmodSync(dir, 0o711);
}
