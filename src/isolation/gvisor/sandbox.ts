/**
 * One gVisor sandbox: `runsc run` on a prepared bundle, inside a cgroup the driver created.
 *
 * Host identities, as gVisor's model has them: the sandbox kernel (`runsc-sandbox`) and the
 * processes it runs the workload in drop to host uid 65534 (nobody) inside a user namespace of
 * their own with no capabilities on the host; the gofer, which opens host files on the sandbox's
 * behalf, stays host root (with a few file capabilities, no_new_privs and its own seccomp filter)
 * by design. runsc 20221219 has no flag to choose the sandbox kernel's host uid, so every gVisor
 * sandbox shares host uid 65534; they stay apart through separate user, pid and mount namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { type CommandSpec, type ForensicAccess, type LimitListener, type LimitWatch, type ProcessExit, type ResourceSample, type Sandbox, type SandboxProcess, type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import type { SandboxCgroup } from '../cgroups/index.ts';
import type { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import type { OciSeccomp } from '../seccomp/index.ts';
import { secretsDirOf } from './secrets.ts';
import { TRUST_STORE_CONTROL } from '../trust-store.ts';
import { buildOciSpec } from './oci-spec.ts';
import { removeBundle, scratchIsFull, type BundlePaths, type MountTools } from './bundle.ts';
import { fatalError, isExecFailure, RUNSC_ENV, runscGlobalArgs, stateFile, stateSaysStarted, workloadExit, type RunscFlags } from './runsc.ts';
import { applyCpuQuota } from './cpu-quota.ts';
import { signalOfExitCode } from '../../host/exit-status.ts';
import { removeForeignCgroups, removeRunscState } from './leftovers.ts';
import type { RefusedForkWatch } from './refused-forks.ts';
import { watchFdCloser, withoutInheritedFds, type FdCloserWatch } from '../inherited-fds.ts';
import { runTeardown } from '../teardown.ts';

/** Longest a boot may take before start() gives up and tears it down. */
const START_TIMEOUT_MS = 30_000;
/** Longest stop() keeps re-killing new arrivals in the cgroup (destroy() insists further). */
const STOP_WAIT_MS = 1_000;
/** Longest stats() waits, once the sandbox ended, for the rest of the sandbox kernel's log. */
const LOG_DRAIN_MS = 2_000;

/** Everything the driver allocated for one sandbox. */
export interface GvisorResources {
  spec: SandboxSpec;
  runsc: string;
  /** Forks refused at the guest task limit, read from the sandbox kernel's log FIFO (opened by the driver). */
  refusedForks: RefusedForkWatch;
  /** Arms the kernel's events for the host cgroup's limit counters. */
  limitEvents: CgroupLimitEvents;
  /** The agent is a layer of the root (see agent-layer.ts), not a bind mount. */
  agentInRoot: boolean;
  flags: RunscFlags;
  stateDir: string;
  bundle: BundlePaths;
  tools: MountTools;
  cgroup: SandboxCgroup;
  /** Absolute cgroup path handed to runsc (`/<parent>/<id>`). */
  cgroupsPath: string;
  hostPidsMax: number;
  nsenter: string | undefined;
  /** Bind source per granted mount: the host bind of its pinned inode inside the bundle. */
  mountSources: string[];
  seccomp: OciSeccomp;
  /** Drops the ownership record once everything else is released. */
  release: () => void;
  /** Whether the command runs under the agent's init (one-shot sandboxes). */
  init: boolean;
  /** The host path of the agent binary: it starts the launch with only the descriptors given to it. */
  fdCloser: string;
}

/** A sandbox on the `gvisor` tier. */
export class GvisorSandbox implements Sandbox {
  readonly runtime = 'gvisor' as const;
  readonly id: string;
  private readonly res: GvisorResources;
  private child: ChildProcess | undefined;
  /** Resolves when the runsc process is gone (its output may still be unread). */
  private exited: Promise<void> | undefined;
  private stopped = false;
  private started = false;
  private scratchFull = false;
  private destroyed: Promise<void> | undefined;

  constructor(resources: GvisorResources) {
    this.res = resources;
    this.id = resources.spec.id;
  }

  async start(command: CommandSpec): Promise<SandboxProcess> {
    if (this.child !== undefined) throw new Error(`sandbox ${this.id} already started`);
    if (this.stopped || this.destroyed !== undefined) throw new Error(`sandbox ${this.id} was stopped`);
    const { res } = this;
    const resolvConf = res.spec.resolvConf === undefined ? undefined : `${res.bundle.dir}/resolv.conf`;
    if (resolvConf !== undefined) writeFileSync(resolvConf, res.spec.resolvConf as string, { mode: 0o444 });
    const trustBundle = res.spec.trustBundle === undefined ? undefined : `${res.bundle.dir}/ca-certificates.crt`;
    if (trustBundle !== undefined) writeTrustBundle(trustBundle, res.spec.trustBundle as string);
    const config = buildOciSpec(res.spec, command, res.seccomp, {
      rootfs: res.bundle.root,
      scratchDir: res.bundle.scratch,
      emptyFile: res.bundle.emptyFile,
      emptyDir: res.bundle.emptyDir,
      mountSources: res.mountSources,
      cgroupsPath: res.cgroupsPath,
      hostPidsMax: res.hostPidsMax,
      init: res.init,
      agentInRoot: res.agentInRoot,
      ...(resolvConf === undefined ? {} : { resolvConf }),
      ...(trustBundle === undefined ? {} : { trustBundle }),
      ...((res.spec.secrets ?? []).length === 0 ? {} : { secretsDir: secretsDirOf(res.bundle) }),
    });
    writeFileSync(res.bundle.config, JSON.stringify(config), { mode: 0o600 });
    const reportDenials = res.spec.onSeccompDenial;
    if (reportDenials !== undefined) res.refusedForks.onDenied(reportDenials);
    const runArgs = [...runscGlobalArgs(res.flags, { stateDir: res.stateDir, logDir: res.bundle.dir, seccompDenials: reportDenials !== undefined }, res.spec.network), 'run', '--bundle', res.bundle.dir, this.id];
    // An attached network: runsc (as root, before it sets up the sandbox) enters the prepared namespace.
    const [file, args] = res.spec.network.kind === 'attached' && res.nsenter !== undefined
      ? [res.nsenter, [`--net=${res.spec.network.netnsPath}`, '--', res.runsc, ...runArgs]]
      : [res.runsc, runArgs];
    if (res.spec.network.kind === 'attached' && res.nsenter === undefined) throw new ControlError('network', 'nsenter is not installed (apt-get install util-linux)');
    // Only stdin/stdout/stderr reach runsc (and its gofer and sandbox kernel): anything else the
    // controller inherited is closed first (T8). runsc dies with the controller: its sandbox kernel
    // is started attached and dies with it, so nothing runs on unsupervised.
    const argv = withoutInheritedFds(res.fdCloser, 3, [file, ...args], { dieWithParent: process.pid });
    // stdout/stderr are pipes read concurrently by the caller; a host terminal is never passed in.
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: [command.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: RUNSC_ENV });
    this.child = child;
    const fdCloser = watchFdCloser(child.stderr as Readable);
    // Claim the output at once: Node discards a child's unread output when it exits before anyone
    // listens, and a short workload can end before start() returns. pipe() keeps backpressure.
    const stdout = (child.stdout as Readable).pipe(new PassThrough());
    const stderr = (child.stderr as Readable).pipe(new PassThrough());
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    // 'close' comes after the output pipes are drained too, so the caller has every byte first.
    const exit = new Promise<ProcessExit>((resolve) => {
      child.once('close', (code, signal) => resolve(this.exitOf(workloadExit(code, signal, this.readLog(), this.stopped))));
      child.once('error', () => resolve({ code: 127, signal: null }));
    });
    try {
      await this.waitStarted(this.exited, fdCloser);
      this.started = true;
      res.refusedForks.writersAttached();
      // Boot is over: the command's CPU counts from here, under the quota it was granted.
      res.cgroup.markCommandStart();
      applyCpuQuota(res.cgroup, res.spec.limits.cpuCores);
    } catch (err) {
      await this.stop();
      throw err;
    }
    return {
      stdout,
      stderr,
      stdin: command.stdin ? (child.stdin as Writable) : null,
      exit,
    };
  }

  /** Under the init, a signal death arrives as exit code 128+N: report it as the signal. */
  private exitOf(exit: ProcessExit): ProcessExit {
    const signal = this.res.init ? signalOfExitCode(exit.code) : null;
    return signal === null ? exit : { code: null, signal };
  }

  /** Resolves once runsc reports the workload started, or it ended; rejects when runsc itself failed. */
  private async waitStarted(exited: Promise<unknown>, fdCloser: FdCloserWatch): Promise<void> {
    let ended = false;
    void exited.then(() => (ended = true));
    const deadline = Date.now() + START_TIMEOUT_MS;
    const state = stateFile(this.res.stateDir, this.id);
    let seen = '';
    for (;;) {
      // runsc's own record of the container (what `runsc state` reads), not a debug-level log line;
      // read again only when runsc rewrote it.
      const stamp = statStamp(state);
      if (stamp !== seen) {
        seen = stamp;
        if (stateSaysStarted(readOrEmpty(state))) return;
      }
      if (ended) {
        const log = this.readLog();
        if (/Exiting with status: \d+/.test(log)) return;
        if (this.stopped) throw new Error(`sandbox ${this.id} was stopped while starting`);
        const fatal = fatalError(log);
        // A missing or unloadable executable is the workload's failure (exit 127), not a control's.
        if (fatal !== undefined && isExecFailure(fatal)) return;
        const refused = fatal === undefined ? await fdCloser.failure() : undefined;
        if (refused !== undefined) throw refused;
        throw new ControlError('gvisor', `runsc failed to start the sandbox: ${fatal ?? 'no reason given (see runsc stderr)'}`);
      }
      if (Date.now() > deadline) throw new ControlError('gvisor', `sandbox did not start within ${START_TIMEOUT_MS} ms`);
      await sleep(3);
    }
  }

  private readLog(): string {
    return readOrEmpty(this.res.bundle.runLog);
  }

  async stats(): Promise<ResourceSample> {
    const sample = this.res.cgroup.sample();
    // Scratch is a host tmpfs, so fullness is read on the host; once seen full it stays reported.
    if (!this.scratchFull && (await scratchIsFull(this.res.bundle))) this.scratchFull = true;
    const running = this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
    // Once the sandbox ended, every line its kernel wrote is read before the count is final.
    if (!running && this.child !== undefined) await this.res.refusedForks.drained(LOG_DRAIN_MS);
    // The host cgroup's own hits (its pids.max backstop) plus the guest's, which only the log shows.
    const guestHits = this.res.refusedForks.count;
    return { ...sample, pidsLimitHits: sample.pidsLimitHits + guestHits, scratchFull: this.scratchFull };
  }

  /**
   * Limit events without polling runsc: the host cgroup's counters (OOM kills, hits of its pids.max
   * backstop) through the kernel's events, like every driver's, and every fork refused at the
   * guest task limit as its trace line is read from the sandbox kernel's log FIFO.
   */
  async watchLimits(listener: LimitListener): Promise<LimitWatch> {
    const host = await this.res.limitEvents.watch(this.res.cgroup, listener);
    const removeListener = this.res.refusedForks.onRefused(() => listener.changed());
    return {
      polled: host.polled,
      poll: () => host.poll(),
      close: () => {
        removeListener();
        host.close();
      },
    };
  }

  /**
   * The sandbox kernel's host process (runsc names it `runsc-sandbox`): its network namespace is
   * the sandbox's. Not merely "a process in another namespace": the gofer has an empty one of its
   * own, and a watch of that would never see a link moved into the sandbox's.
   */
  networkPid(): number | undefined {
    if (!this.started) return undefined;
    return this.res.cgroup.pids().find((pid) => argv0Of(pid) === SENTRY_ARGV0);
  }

  forensicAccess(): ForensicAccess {
    const { res } = this;
    return { cgroup: res.cgroup, scratchDir: res.bundle.scratch, runsc: { binary: res.runsc, globalArgs: runscGlobalArgs(res.flags, { stateDir: res.stateDir }), containerId: this.id } };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const child = this.child;
    // Still booting: the sandbox may not be in the cgroup yet, so end runsc itself (its sandbox
    // kernel is started --attached and dies with it; whatever else it left is in the cgroup).
    if (!this.started && child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // SIGKILL every host process of the sandbox (kernel, gofer, tracee stubs) at once: it needs no
    // answer from a sandbox kernel that may be throttled or wedged, and runsc run then reports
    // the workload as killed (wait status 9).
    await this.res.cgroup.killUntilEmpty(STOP_WAIT_MS);
  }

  destroy(): Promise<void> {
    this.destroyed ??= this.release();
    return this.destroyed;
  }

  /** Each step runs even if an earlier one failed; the first failure is reported at the end. */
  private async release(): Promise<void> {
    const { res } = this;
    await runTeardown('gvisor', this.id, [
      () => this.stop(),
      // Why: a denial logged just before the end is still counted (at once when already read to EOF).
      res.spec.onSeccompDenial !== undefined && (() => res.refusedForks.drained(LOG_DRAIN_MS)),
      () => res.refusedForks.close(),
      () => this.waitChildGone(),
      () => removeRunscState(res.runsc, runscGlobalArgs(res.flags, { stateDir: res.stateDir }), res.stateDir, this.id),
      () => res.cgroup.remove(),
      () => removeForeignCgroups(res.cgroup),
      () => removeBundle(res.bundle, res.tools),
    ]);
    // Only a complete teardown drops the ownership record; otherwise the reaper finds the rest.
    res.release();
  }

  /** Waits for runsc run to exit; SIGKILLs it (and the cgroup) if it lingers. */
  private async waitChildGone(): Promise<void> {
    const child = this.child;
    if (child === undefined || this.exited === undefined) return;
    const gone = this.exited.then(() => true);
    // Unref'd timers: a finished wait must not hold the controller's event loop open.
    if (await Promise.race([gone, sleep(3_000, false, { ref: false })])) return;
    this.res.cgroup.killAll();
    child.kill('SIGKILL');
    await Promise.race([gone, sleep(2_000, false, { ref: false })]);
  }
}

/** Size and change time of `path` ('' when absent): equal stamps mean an unchanged file. */
function statStamp(path: string): string {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? '' : `${st.size}:${st.ctimeNs}:${st.ino}`;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** What runsc calls its sandbox kernel process (argv[0]). */
const SENTRY_ARGV0 = 'runsc-sandbox';

function argv0Of(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
  } catch {
    return undefined;
  }
}

/** Writes the composed trust bundle runsc binds over the image's; a failure names the control. */
function writeTrustBundle(path: string, bundle: string): void {
  try {
    writeFileSync(path, bundle, { mode: 0o444, flag: 'wx' });
  } catch (err) {
    throw new ControlError(TRUST_STORE_CONTROL, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
