/**
 * One bubblewrap sandbox: spawned as an unprivileged host uid, held on bwrap's block-fd until its
 * pid is inside the sandbox cgroup, then released to exec the command.
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { closeSync, lstatSync, openSync, statfsSync, statSync, type StatsFs } from 'node:fs';
import { readdir, statfs } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import {
  SECRETS_MOUNT,
  type CommandSpec,
  type ResourceSample,
  type ForensicAccess,
  type Sandbox,
  type SandboxProcess,
  type SandboxSpec,
  type ProcessExit,
  type LimitListener,
  type LimitWatch,
} from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import type { SandboxCgroup } from '../cgroups/index.ts';
import type { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import type { UidLease } from '../../host/uid-lease.ts';
import { releasePins, type PinnedMount } from '../mount-pins.ts';
import { signalOfExitCode } from '../../host/exit-status.ts';
import { buildBwrapArgs, buildLauncherArgs, FD, launchLimits } from './bwrap-args.ts';
import { execFailureWording } from './exec-failure.ts';
import type { ProcMaskBind } from '../proc-masks.ts';
import { watchFdCloser, withoutInheritedFds } from '../inherited-fds.ts';
import { APPARMOR_REFUSAL } from '../apparmor/index.ts';
import { secretBytes } from '../secret-files.ts';
import { agentDirOf } from '../../agent/build.ts';
import { readProbes, WATCH_REFUSAL } from './write-watch.ts';

/** What the driver hands a sandbox: every control already allocated. */
export interface NamespaceResources {
  spec: SandboxSpec;
  cgroup: SandboxCgroup;
  lease: UidLease;
  pins: PinnedMount[];
  seccompBpf: Buffer;
  /** Replacements for the /proc paths that show the host. */
  procMasks: readonly ProcMaskBind[];
  /** The root built around the image when grants need mount points it lacks (root-layout.ts). */
  root?: readonly string[];
  bwrapPath: string;
  nsenterPath: string;
  /** The host path of the agent binary: it starts the launch with only the descriptors given to it. */
  fdCloser: string;
  /** Where AppArmor is active: the profile the command starts under and the agent directory that applies it. */
  confinement?: { profile: string; agentDir: string };
  /** Arms the kernel's events for the cgroup's limit counters. */
  limitEvents: CgroupLimitEvents;
  /** Drops the ownership record once everything else is released. */
  release: () => Promise<void>;
}

/** Minimal environment for the bwrap process itself; the sandbox gets `--clearenv` + the spec's. */
const LAUNCHER_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

export class NamespaceSandbox implements Sandbox {
  readonly runtime = 'namespace' as const;
  readonly id: string;
  private readonly res: NamespaceResources;
  private child: ChildProcess | undefined;
  private childPid: number | undefined;
  /** A descriptor on the sandbox's /tmp: keeps its tmpfs measurable after the last process exits. */
  private scratchFd: number | undefined;
  private scratchFull = false;
  private openFilesLimitHit = false;
  private destroyed: Promise<void> | undefined;

  constructor(resources: NamespaceResources) {
    this.res = resources;
    this.id = resources.spec.id;
  }

  async start(command: CommandSpec): Promise<SandboxProcess> {
    if (this.child !== undefined) throw new Error(`sandbox ${this.id} already started`);
    const { spec, pins, lease } = this.res;
    const resolvConfFd = FD.firstMount + pins.length;
    const secrets = spec.secrets ?? [];
    const firstSecretFd = resolvConfFd + (spec.resolvConf === undefined ? 0 : 1);
    const secretFds = secrets.map((_, i) => firstSecretFd + i);
    // Denial reporting: a second copy of the filter on the fd after the secrets (see bwrap-args seccompLogged).
    const seccompLog = spec.denialAuid === undefined ? undefined : { fd: firstSecretFd + secrets.length, agentDir: agentDirOf(this.res.fdCloser) };
    // The trust bundle (a broker CA to trust) comes last, after the logging filter's fd.
    const trustBundleFd = firstSecretFd + secrets.length + (seccompLog === undefined ? 0 : 1);
    // The write watcher's findings come back on the fd after the trust bundle (see bwrap-args writesWatched).
    const writeWatch = spec.onPathProbe === undefined ? undefined : { fd: trustBundleFd + (spec.trustBundle === undefined ? 0 : 1), agentDir: agentDirOf(this.res.fdCloser) };
    const args = buildBwrapArgs({ spec, command: command.argv, mountFds: pins.map((_, i) => FD.firstMount + i), resolvConfFd, trustBundleFd, secretFds, procMasks: this.res.procMasks, ...(this.res.root === undefined ? {} : { root: this.res.root }), ...(this.res.confinement === undefined ? {} : { confinement: this.res.confinement }), ...(seccompLog === undefined ? {} : { seccompLog }), ...(writeWatch === undefined ? {} : { writeWatch }) });
    const launcher = buildLauncherArgs(spec, lease.uid, this.res.nsenterPath);
    const bwrapArgv = [this.res.bwrapPath, ...args];
    const launchArgv0 = launcher.program === undefined ? bwrapArgv : [launcher.program, ...launcher.prefix, ...bwrapArgv];
    // Why first in the chain: the sandbox inherits the audit login uid and can never change it.
    const launchArgv = spec.denialAuid === undefined ? launchArgv0 : [this.res.fdCloser, '--loginuid', String(spec.denialAuid), '--', ...launchArgv0];
    const stdio: (IOType | number)[] = [command.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...pins.map((p) => p.fd), ...(spec.resolvConf === undefined ? [] : ['pipe' as const]), ...secrets.map(() => 'pipe' as const), ...(seccompLog === undefined ? [] : ['pipe' as const]), ...(spec.trustBundle === undefined ? [] : ['pipe' as const]), ...(writeWatch === undefined ? [] : ['pipe' as const])];
    // Only the descriptors listed here reach bwrap: anything else the controller inherited is closed
    // first (T8); the same step sets the limits bwrap doesn't (launchLimits).
    const argv = withoutInheritedFds(this.res.fdCloser, stdio.length, launchArgv, launchLimits(spec));
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio,
      // Unprivileged host identity: sandbox uid 65534 maps to this uid, never to host root. With an
      // attached network, nsenter starts as root only to enter the namespace, then drops to it.
      ...(launcher.asRoot ? {} : { uid: lease.uid, gid: lease.uid }),
      env: LAUNCHER_ENV,
    });
    this.child = child;
    const fds = child.stdio as unknown as (Readable & Writable)[];
    // A sandbox that dies early resets the handshake sockets: that is reported below, never thrown.
    for (const stream of fds) stream?.on('error', () => undefined);
    // Read from the start: every finding is handled before the child's close (it waits for this stream).
    if (writeWatch !== undefined && spec.onPathProbe !== undefined) readProbes(fds[writeWatch.fd] as Readable, spec.onPathProbe);
    // Claim the output at once: Node drops a child's unread output when it exits before anyone
    // listens, and a short command can end before the caller attaches. pipe() keeps backpressure.
    const stdout = (child.stdout as Readable).pipe(new PassThrough());
    // bubblewrap's own exec failure reads as every runtime words it (exec-failure.ts).
    const stderr = (child.stderr as Readable).pipe(execFailureWording());
    const stderrHead = collectHead(child.stderr as Readable);
    const fdCloser = watchFdCloser(child.stderr as Readable);
    const exit = new Promise<ProcessExit>((resolve) => {
      child.once('close', (code, signal) => resolve(exitOf(code, signal, stderrHead.text())));
    });
    try {
      // Join the cgroup at once, so the (slow, on cgroup v1) migration overlaps bwrap's own start-up;
      // everything bwrap forks later inherits it. Checked below before anything may exec.
      const joining = child.pid === undefined ? Promise.resolve() : this.res.cgroup.addProcess(child.pid);
      // Awaited below; a failure before then is reported there, not as an unhandled rejection.
      joining.catch(() => undefined);
      fds[FD.seccomp]?.end(this.res.seccompBpf);
      if (seccompLog !== undefined) fds[seccompLog.fd]?.end(this.res.seccompBpf);
      if (spec.resolvConf !== undefined) fds[resolvConfFd]?.end(spec.resolvConf);
      if (spec.trustBundle !== undefined) fds[trustBundleFd]?.end(spec.trustBundle);
      // Each value goes through a pipe bwrap copies into the sandbox's own tmpfs: no argv, no host file.
      secrets.forEach((secret, i) => fds[secretFds[i] as number]?.end(secretBytes(secret)));
      const info = await readInfo(fds[FD.info] as Readable, exit);
      this.childPid = info;
      await joining;
      // Fail closed: if bwrap forked before it was moved, move its sandbox child now, still parked.
      if (!this.res.cgroup.contains(info)) await this.res.cgroup.addProcess(info);
      // Scratch is watched from before the command's first write: a command that fills /tmp and
      // exits within milliseconds is still measured (its tmpfs outlives it through this descriptor).
      await waitForSandboxRoot(info, rootMarker(spec.image.rootfs, this.res.root, spec.mounts.map((m) => m.sandboxPath)), exit);
      checkPlacedSecrets(info, spec, lease.uid);
      this.scratchFd = openScratch(info, spec);
      // The command's CPU starts here: bwrap's own set-up is not billed to it.
      this.res.cgroup.markCommandStart();
      // Release the sandbox: only now, inside its cgroup, may it exec the command.
      fds[FD.block]?.end('1');
    } catch (err) {
      // Kill the sandbox's pid 1 too: it may be parked on block-fd and would hold our pipes open.
      if (this.childPid !== undefined) killQuietly(this.childPid);
      child.kill('SIGKILL');
      await exit;
      const refused = await fdCloser.failure();
      if (refused !== undefined) throw refused;
      const detail = stderrHead.text().trim();
      // bwrap's own message says what really failed (a later ESRCH from the cgroup is only a symptom).
      if (detail.startsWith('bwrap: ')) throw new ControlError('namespace', `bubblewrap failed to start: ${detail.slice(7)}`, { cause: err });
      if (err instanceof ControlError) throw err;
      throw new ControlError('namespace', `bubblewrap failed to start: ${detail || (err as Error).message}`, { cause: err });
    }
    return { stdout, stderr, stdin: command.stdin ? (child.stdin as Writable) : null, exit };
  }

  async stats(): Promise<ResourceSample> {
    const sample = this.res.cgroup.sample();
    if (this.scratchFd !== undefined && !this.scratchFull) {
      const fs = await statfs(`/proc/self/fd/${this.scratchFd}`);
      // No block or no inode left: either way the next write fails with ENOSPC.
      if (fs.bavail === 0 || fs.ffree === 0) this.scratchFull = true;
    }
    if (!this.openFilesLimitHit) this.openFilesLimitHit = await this.anyProcessAtFileLimit();
    return { ...sample, scratchFull: this.scratchFull, openFilesLimitHit: this.openFilesLimitHit };
  }

  watchLimits(listener: LimitListener): Promise<LimitWatch> {
    return this.res.limitEvents.watch(this.res.cgroup, listener);
  }

  /** Samples open descriptors of (up to 64) sandbox processes against RLIMIT_NOFILE. */
  private async anyProcessAtFileLimit(): Promise<boolean> {
    const limit = this.res.spec.limits.openFiles;
    for (const pid of this.res.cgroup.pids().slice(0, 64)) {
      try {
        if ((await readdir(`/proc/${pid}/fd`)).length >= limit) return true;
      } catch {
        // Exited meanwhile.
      }
    }
    return false;
  }

  networkPid(): number | undefined {
    return this.childPid;
  }

  forensicAccess(): ForensicAccess {
    // Why through our descriptor: the sandbox's /tmp is reached without a path the sandbox could redirect.
    return { cgroup: this.res.cgroup, scratchDir: this.scratchFd === undefined ? undefined : `/proc/self/fd/${this.scratchFd}` };
  }

  async stop(): Promise<void> {
    // Killing pid 1 of the sandbox's pid namespace kills every process in it, atomically.
    if (this.childPid !== undefined) killQuietly(this.childPid);
    this.res.cgroup.killAll();
    this.child?.kill('SIGKILL');
  }

  destroy(): Promise<void> {
    this.destroyed ??= this.release();
    return this.destroyed;
  }

  private async release(): Promise<void> {
    await this.stop();
    if (this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise((resolve) => this.child?.once('close', resolve));
    }
    releasePins(this.res.pins);
    if (this.scratchFd !== undefined) closeSync(this.scratchFd);
    this.scratchFd = undefined;
    await this.res.cgroup.remove();
    // Only a complete teardown releases uid and record; otherwise the reaper finds them.
    this.res.lease.release();
    await this.res.release();
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Linux TMPFS_MAGIC, as statfs reports a tmpfs. */
const TMPFS_MAGIC = 0x01021994;
/** Longest bwrap may take to build the sandbox's root before the start is abandoned. */
const ROOT_SETUP_TIMEOUT_MS = 10_000;

/** Paths the sandbox's own mounts cover (bwrap-args.ts), so an image entry there never shows the image's inode. */
const RUNTIME_MOUNTED = ['/proc', '/dev', '/run', '/tmp', '/sys'];

/**
 * A path of the final root and the image inode it shows: `/` itself, or a top entry bound into a
 * root built around the image — one that no later mount covers (a runtime mount or a grant), or
 * its inode would never be seen there.
 */
function rootMarker(rootfs: string, root: readonly string[] | undefined, grants: readonly string[]): { host: string; inSandbox: string } {
  if (root === undefined) return { host: rootfs, inSandbox: '' };
  const covered = [...RUNTIME_MOUNTED, ...grants.map((g) => g.replace(/\/+$/, ''))];
  const under = (path: string, top: string): boolean => path === top || path.startsWith(`${top}/`) || top.startsWith(`${path}/`);
  for (let at = root.indexOf('--ro-bind'); at >= 0; at = root.indexOf('--ro-bind', at + 1)) {
    const host = root[at + 1];
    const inSandbox = root[at + 2];
    if (host !== undefined && inSandbox !== undefined && !covered.some((top) => under(inSandbox, top))) return { host, inSandbox };
  }
  throw new ControlError('scratch', 'the image has no top entry the sandbox root can be recognised by (every one is covered by a mount)');
}

/**
 * Resolves once bwrap's parked child has its final root (the image, bound at /, or an image entry
 * bound into a root built around it: same device and inode), i.e. every mount, /tmp included, is
 * in place; bwrap parks on block-fd only after that.
 * Rejects if bwrap exits first or takes longer than {@link ROOT_SETUP_TIMEOUT_MS}.
 */
async function waitForSandboxRoot(pid: number, marker: { host: string; inSandbox: string }, exit: Promise<ProcessExit>): Promise<void> {
  const image = statSync(marker.host);
  let exited = false;
  void exit.then(() => (exited = true));
  const deadline = Date.now() + ROOT_SETUP_TIMEOUT_MS;
  for (;;) {
    try {
      const root = statSync(`/proc/${pid}/root${marker.inSandbox}`);
      if (root.dev === image.dev && root.ino === image.ino) return;
    } catch {
      // Not readable yet, or gone: decided below.
    }
    if (exited) throw new Error('bubblewrap exited before the sandbox root was in place');
    if (Date.now() > deadline) throw new ControlError('scratch', `the sandbox root was not in place within ${ROOT_SETUP_TIMEOUT_MS} ms`);
    await sleep(1);
  }
}

/**
 * Opens the sandbox's /tmp (through its parked pid 1, whose root is the sandbox root) so its fill
 * level stays measurable after the last process exits. Fails closed: a /tmp that is not the
 * scratch tmpfs of exactly the requested size means the limit can't be watched. A grant mounted
 * at /tmp itself hides the scratch entirely: there is no scratch to watch then.
 */
function openScratch(pid: number, spec: SandboxSpec): number | undefined {
  if (spec.mounts.some((m) => m.sandboxPath.replace(/\/+$/, '') === '/tmp')) return undefined;
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/root/tmp`, 'r');
  } catch (err) {
    throw new ControlError('scratch', `cannot open the sandbox's /tmp: ${(err as Error).message}`, { cause: err });
  }
  let fs: StatsFs | undefined;
  try {
    fs = statfsSync(`/proc/self/fd/${fd}`);
  } catch {
    // Decided below.
  }
  if (fs === undefined || fs.type !== TMPFS_MAGIC || fs.blocks * fs.bsize !== spec.limits.scratchMb * 1024 * 1024) {
    closeSync(fd);
    throw new ControlError('scratch', `the sandbox's /tmp is not the ${spec.limits.scratchMb} MiB scratch tmpfs`);
  }
  return fd;
}

/**
 * Fail closed: every secret must be in place, through the parked pid 1's root, before the command
 * may run: a regular file of exactly its size, mode 0400, owned by the sandbox's host uid, on a
 * tmpfs. The error names the secret, never its value.
 */
function checkPlacedSecrets(pid: number, spec: SandboxSpec, hostUid: number): void {
  for (const secret of spec.secrets ?? []) {
    const path = `/proc/${pid}/root${SECRETS_MOUNT}/${secret.name}`;
    let problem: string | undefined;
    try {
      const st = lstatSync(path);
      const fs = statfsSync(path);
      if (!st.isFile()) problem = 'is not a regular file';
      else if ((st.mode & 0o7777) !== 0o400) problem = `has mode ${(st.mode & 0o7777).toString(8)}, not 400`;
      else if (st.uid !== hostUid) problem = 'is not owned by the sandbox user';
      else if (st.size !== secretBytes(secret).length) problem = 'was not copied in full';
      else if (fs.type !== TMPFS_MAGIC) problem = 'is not on a tmpfs';
    } catch (err) {
      problem = `is missing (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
    }
    if (problem !== undefined) throw new ControlError(`secret ${secret.name}`, `${SECRETS_MOUNT}/${secret.name} ${problem}`);
  }
}

/** Reads bwrap's info JSON (`{"child-pid": N, …}`) or fails if bwrap exits first. */
async function readInfo(stream: Readable, exit: Promise<ProcessExit>): Promise<number> {
  let text = '';
  const parsed = new Promise<number>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      const match = /"child-pid"\s*:\s*(\d+)/.exec(text);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    stream.once('end', () => reject(new Error('bubblewrap closed its info fd without a child pid')));
    stream.once('error', reject);
  });
  return Promise.race([
    parsed,
    exit.then((e) => Promise.reject(new Error(`bubblewrap exited (${e.code ?? e.signal}) before the sandbox started`))),
  ]);
}

/** Keeps the first 4 KiB of stderr (alongside the caller's own reading) so a failure can say what bwrap said. */
function collectHead(stream: Readable): { text(): string } {
  let head = '';
  stream.on('data', (chunk: Buffer) => {
    if (head.length < 4096) head += chunk.toString('utf8');
  });
  return { text: () => head };
}

/**
 * bwrap, as the sandbox's pid 1 parent, turns a signal death into exit code 128+N: map it back so
 * the runner can report `killed`. A bwrap set-up error (its own `bwrap: ` message and exit 1 before
 * the command ran) is reported as such, not as the command's failure.
 */
export function exitOf(code: number | null, signal: NodeJS.Signals | null, stderrHead: string): ProcessExit {
  if (code === 1 && stderrHead.startsWith('bwrap: execvp ')) {
    // The command itself doesn't exist or can't run: the shell's 127, not a sandbox failure.
    return { code: 127, signal };
  }
  if (code === 126 && stderrHead.startsWith(APPARMOR_REFUSAL)) {
    // The agent refused to run the command unconfined: the sandbox never started (fail closed).
    return { code, signal, setupError: `apparmor: ${stderrHead.split('\n')[0]?.slice(APPARMOR_REFUSAL.length) ?? ''}` };
  }
  if (code === 126 && stderrHead.startsWith(WATCH_REFUSAL)) {
    // Fail closed: the write watcher could not be started, so the command never ran.
    return { code, signal, setupError: `write watcher: ${stderrHead.split('\n')[0]?.slice(WATCH_REFUSAL.length) ?? ''}` };
  }
  if (code === 1 && stderrHead.startsWith('bwrap: ')) {
    return { code, signal, setupError: stderrHead.split('\n')[0]?.slice('bwrap: '.length) ?? 'bubblewrap failed' };
  }
  const fromCode = signalOfExitCode(code);
  return fromCode === null ? { code, signal } : { code: null, signal: fromCode };
}
