/**
 * One bubblewrap sandbox: spawned as an unprivileged host uid, held on bwrap's block-fd until its
 * pid is inside the sandbox cgroup, then released to exec the command.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, statfs } from 'node:fs/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import {
  ControlError,
  type CommandSpec,
  type ResourceSample,
  type Sandbox,
  type SandboxProcess,
  type SandboxSpec,
  type ProcessExit,
} from '../driver.ts';
import type { SandboxCgroup } from '../cgroups/index.ts';
import type { UidLease } from '../uid-lease.ts';
import { releasePins, type PinnedMount } from '../mount-pins.ts';
import { signalOfExitCode } from '../exit-status.ts';
import { buildBwrapArgs, buildLauncherArgs, buildPrlimitArgs, FD } from './bwrap-args.ts';

/** What the driver hands a sandbox: every control already allocated. */
export interface NamespaceResources {
  spec: SandboxSpec;
  cgroup: SandboxCgroup;
  lease: UidLease;
  pins: PinnedMount[];
  seccompBpf: Buffer;
  bwrapPath: string;
  prlimitPath: string;
  nsenterPath: string;
  /** Drops the ownership record once everything else is released. */
  release: () => void;
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
  private scratchReady: Promise<number | undefined> | undefined;
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
    const args = buildBwrapArgs({ spec, command: command.argv, mountFds: pins.map((_, i) => FD.firstMount + i), resolvConfFd });
    const launcher = buildLauncherArgs(spec, lease.uid, this.res.nsenterPath);
    const prlimitArgv = [this.res.prlimitPath, ...buildPrlimitArgs(spec), this.res.bwrapPath, ...args];
    const argv = launcher.program === undefined ? prlimitArgv : [launcher.program, ...launcher.prefix, ...prlimitArgv];
    const child = spawn(argv[0] as string, argv.slice(1), {
      stdio: [command.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...pins.map((p) => p.fd), ...(spec.resolvConf === undefined ? [] : ['pipe' as const])],
      // Unprivileged host identity: sandbox uid 65534 maps to this uid, never to host root. With an
      // attached network, nsenter starts as root only to enter the namespace, then drops to it.
      ...(launcher.asRoot ? {} : { uid: lease.uid, gid: lease.uid }),
      env: LAUNCHER_ENV,
    });
    this.child = child;
    const fds = child.stdio as unknown as (Readable & Writable)[];
    // A sandbox that dies early resets the handshake sockets: that is reported below, never thrown.
    for (const stream of fds) stream?.on('error', () => undefined);
    // Claim the output at once: Node drops a child's unread output when it exits before anyone
    // listens, and a short command can end before the caller attaches. pipe() keeps backpressure.
    const stdout = (child.stdout as Readable).pipe(new PassThrough());
    const stderr = (child.stderr as Readable).pipe(new PassThrough());
    const stderrHead = collectHead(child.stderr as Readable);
    const exit = new Promise<ProcessExit>((resolve) => {
      child.once('close', (code, signal) => resolve(exitOf(code, signal, stderrHead.text())));
    });
    try {
      // Join the cgroup at once, so the (slow, on cgroup v1) migration overlaps bwrap's own start-up;
      // everything bwrap forks later inherits it. Checked below before anything may exec.
      if (child.pid !== undefined) this.res.cgroup.addProcess(child.pid);
      fds[FD.seccomp]?.end(this.res.seccompBpf);
      if (spec.resolvConf !== undefined) fds[resolvConfFd]?.end(spec.resolvConf);
      const info = await readInfo(fds[FD.info] as Readable, exit);
      this.childPid = info;
      // Fail closed: if bwrap forked before it was moved, move its sandbox child now, still parked.
      if (!this.res.cgroup.contains(info)) this.res.cgroup.addProcess(info);
      // Release the sandbox: only now, inside its cgroup, may it exec the command.
      fds[FD.block]?.end('1');
    } catch (err) {
      // Kill the sandbox's pid 1 too: it may be parked on block-fd and would hold our pipes open.
      if (this.childPid !== undefined) killQuietly(this.childPid);
      child.kill('SIGKILL');
      await exit;
      const detail = stderrHead.text().trim();
      // bwrap's own message says what really failed (a later ESRCH from the cgroup is only a symptom).
      if (detail.startsWith('bwrap: ')) throw new ControlError('namespace', `bubblewrap failed to start: ${detail.slice(7)}`, { cause: err });
      if (err instanceof ControlError) throw err;
      throw new ControlError('namespace', `bubblewrap failed to start: ${detail || (err as Error).message}`, { cause: err });
    }
    this.scratchReady = openScratch(this.childPid, spec.limits.scratchMb);
    return { stdout, stderr, stdin: command.stdin ? (child.stdin as Writable) : null, exit };
  }

  async stats(): Promise<ResourceSample> {
    const sample = this.res.cgroup.sample();
    if (this.scratchReady !== undefined) {
      this.scratchFd = await this.scratchReady;
      this.scratchReady = undefined;
    }
    if (this.scratchFd !== undefined && !this.scratchFull) {
      const fs = await statfs(`/proc/self/fd/${this.scratchFd}`);
      if (fs.bavail === 0) this.scratchFull = true;
    }
    if (!this.openFilesLimitHit) this.openFilesLimitHit = await this.anyProcessAtFileLimit();
    return { ...sample, scratchFull: this.scratchFull, openFilesLimitHit: this.openFilesLimitHit };
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
    if (this.scratchReady !== undefined) this.scratchFd = await this.scratchReady;
    this.scratchReady = undefined;
    if (this.scratchFd !== undefined) closeSync(this.scratchFd);
    this.scratchFd = undefined;
    await this.res.cgroup.remove();
    // Only a complete teardown releases uid and record; otherwise the reaper finds them.
    this.res.lease.release();
    this.res.release();
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

/**
 * Holds a descriptor on the sandbox's /tmp so its fill level stays measurable after the last
 * process exits. Opened after release, when pid 1's root is the sandbox root, and kept only if it
 * is the tmpfs of exactly the scratch size (otherwise scratch fullness is simply not reported).
 */
async function openScratch(pid: number | undefined, scratchMb: number): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/root/tmp`, 'r');
  } catch {
    return undefined;
  }
  try {
    const fs = await statfs(`/proc/self/fd/${fd}`);
    if (fs.type === TMPFS_MAGIC && fs.blocks * fs.bsize === scratchMb * 1024 * 1024) return fd;
  } catch {
    // Fall through: not measurable.
  }
  closeSync(fd);
  return undefined;
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
  if (code === 1 && stderrHead.startsWith('bwrap: ')) {
    return { code, signal, setupError: stderrHead.split('\n')[0]?.slice('bwrap: '.length) ?? 'bubblewrap failed' };
  }
  const fromCode = signalOfExitCode(code);
  return fromCode === null ? { code, signal } : { code: null, signal: fromCode };
}
