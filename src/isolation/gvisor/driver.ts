/**
 * The `gvisor` tier: runsc (a user-space kernel) booting an OCI bundle with the same hardening as
 * the namespace tier — the project's seccomp filter applied inside the sandbox kernel, uid 65534,
 * no capabilities, read-only image root, size-limited scratch, and limits from a cgroup the
 * driver creates and runsc joins.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { type Availability, type IsolationDriver, type Limits, type Sandbox, type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { detectCgroups, SandboxCgroup, type CgroupLayout } from '../cgroups/index.ts';
import { pinMounts, releasePins, type PinnedMount } from '../mount-pins.ts';
import { checkWorkdir } from '../mount-targets.ts';
import { DEFAULT_PROFILE, hostArch, toOciSeccomp, type OciSeccomp } from '../seccomp/index.ts';
import { findExecutable } from '../../host/which.ts';
import type { AirlockConfig } from '../../config/config.ts';
import { bundlePaths, createBundleDir, mountScratch, removeBundle, type MountTools } from './bundle.ts';
import { RefusedForkWatch } from './refused-forks.ts';
import { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import { CgroupV1Events, ensureCgroupEventsHelper } from '../cgroups/v1-events.ts';
import { execRunsc, parseRunscFlags, REQUIRED_FLAGS, RUNSC_ENV, runscGlobalArgs, type RunscFlags } from './runsc.ts';
import { removeForeignCgroups, removeRunscState } from './leftovers.ts';
import { GvisorSandbox } from './sandbox.ts';
import { bootCpuCores } from './cpu-quota.ts';
import { bindGrants } from './grants.ts';
import { mountPoints, mountRoot } from './rootfs.ts';
import { AgentLayers } from './agent-layer.ts';
import { placeSecrets } from './secrets.ts';
import { checkSecretFiles } from '../secret-files.ts';
import { bootCheck } from './probe.ts';
import { checkMaskedPaths } from '../../images/masked-paths.ts';
import { ensureAgent, type AgentStamps } from '../../agent/build.ts';
import { claimSandbox, releaseSandbox, staleRecords } from '../../host/ownership.ts';
import { leaseHostUid, releaseHostUid } from '../../host/uid-lease.ts';

/** Sandbox ids become paths and runsc container ids: nothing but these characters. */
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * The host cgroup's pids.max is a backstop for the runtime, not the guest limit: gofer and sandbox
 * kernel threads take ~30 tasks at rest, and on the ptrace platform every guest process adds a
 * tracee stub with up to one thread per sandbox-kernel thread (15-26 per guest process measured
 * under a fork bomb). Reaching it crashes the sandbox kernel, which still stops the sandbox.
 */
const RUNTIME_TASKS = 128;
const HOST_TASKS_PER_GUEST_TASK = 32;
/** Never more host tasks than this for one sandbox, whatever its guest limit (hosts may have pid_max 32768). */
const HOST_TASKS_MAX = 16_384;

/** Options of {@link GvisorDriver}. */
export interface GvisorDriverOptions {
  config: AirlockConfig;
}

/** Host tools and runsc facts, looked up once per driver. */
interface Tools extends MountTools {
  runsc: string;
  mkfifo: string;
  nsenter: string | undefined;
  flags: RunscFlags;
  version: string;
}

/** The host cgroup's pids.max for a guest task limit: a backstop above what the runtime itself needs. */
export function hostPidsMax(guestPids: number): number {
  return Math.min(HOST_TASKS_MAX, RUNTIME_TASKS + guestPids * HOST_TASKS_PER_GUEST_TASK);
}

/** Runs sandboxes under gVisor's runsc. */
export class GvisorDriver implements IsolationDriver {
  readonly runtime = 'gvisor' as const;
  private readonly config: AirlockConfig;
  /** Agent builds already verified, re-hashed only when the file changes (see ensureAgent). */
  private readonly agentStamps: AgentStamps = new Map();
  /** The verified agent builds as lower layers of sandbox roots (see agent-layer.ts). */
  private readonly agentLayers: AgentLayers;
  private tools: Tools | undefined;
  private seccomp: OciSeccomp | undefined;
  private cgroupLayout: CgroupLayout | undefined;
  /** Kernel events for every sandbox's host cgroup counters (the v1 OOM helper starts with the first watch). */
  private readonly limitEvents: CgroupLimitEvents;

  constructor(options: GvisorDriverOptions) {
    this.config = options.config;
    this.agentLayers = new AgentLayers(`${options.config.runDir}/gvisor`);
    this.limitEvents = new CgroupLimitEvents({ v1: new CgroupV1Events(() => ensureCgroupEventsHelper(options.config)) });
  }

  /** `${runDir}/gvisor`: bundles, and runsc's state under `state/`. */
  get baseDir(): string {
    return `${this.config.runDir}/gvisor`;
  }

  /** runsc's `--root` for this driver's sandboxes. */
  get stateDir(): string {
    return `${this.baseDir}/state`;
  }

  async probe(): Promise<Availability> {
    const details: Record<string, string> = {};
    try {
      const tools = await this.requireTools();
      details['runsc'] = tools.version;
      details['cgroups'] = `v${this.layout().version}`;
      details['seccomp'] = `${this.filter().syscalls.length} OCI rules (${hostArch()}), applied with --oci-seccomp`;
      if (process.getuid?.() !== 0) throw new ControlError('gvisor', 'runsc needs root on the host to set up its sandbox');
      this.ensureDirs();
      details['boot'] = await bootCheck(this, tools.runsc, this.baseDir);
      return { available: true, details };
    } catch (err) {
      return { available: false, reason: (err as Error).message, details };
    }
  }

  async create(requested: SandboxSpec): Promise<Sandbox> {
    // A one-shot command runs under the agent's init (see OciHostPaths.init); a persistent sandbox's
    // main process is the agent itself, already a proper pid 1.
    const init = requested.agentDir === undefined;
    const agent = await ensureAgent(this.config, undefined, this.agentStamps);
    const spec = init ? { ...requested, agentDir: agent.dir } : requested;
    if (!ID_RE.test(spec.id)) throw new ControlError('sandbox id', `"${spec.id}" is not lowercase letters, digits and dashes`);
    const tools = await this.requireTools();
    // The image's masked paths are checked here too: a driver never trusts how its Image was obtained.
    checkMaskedPaths(spec.image.rootfs);
    // The same working-directory rule as the namespace runtime: refused here, before anything exists.
    checkWorkdir(spec);
    // Secret names become file names: refused here, before anything exists.
    checkSecretFiles(spec.secrets ?? []);
    const seccomp = this.filter();
    const layout = this.layout();
    this.ensureDirs();
    // The driver's own verified build is put in the root (cached like the image); any other agent directory is bound.
    const agentLayer = spec.agentDir === agent.dir ? this.agentLayers.layerFor(agent) : undefined;
    const bundle = bundlePaths(this.baseDir, spec.id);
    let pins: PinnedMount[] = [];
    let cgroup: SandboxCgroup | undefined;
    let bundleMade = false;
    let refusedForks: RefusedForkWatch | undefined;
    // The gofer opens grants as host root: grants are checked as an unprivileged host uid leased to
    // this sandbox alone instead, so that they expose nothing that uid could not open itself.
    const lease = leaseHostUid(this.config.runDir, this.config.hostUidBase, this.config.hostUidCount);
    // Recorded before anything else exists, so a crash at any later point leaves a reapable trail.
    claimSandbox(this.config.runDir, spec.id, 'gvisor', { uid: lease.uid });
    const release = () => {
      // Record first: a uid released while a record still names it could be reaped from its next holder.
      releaseSandbox(this.config.runDir, spec.id);
      lease.release();
    };
    try {
      // Why without writeAs: runsc's gofer writes as root, so an id-mapped grant can't map its writes; such a grant is checked as the sandbox's uid like any other.
      pins = await pinMounts(spec.mounts.map(({ writeAs: _owner, ...mount }) => mount), { stateDirs: [this.config.stateDir, this.config.runDir], user: { uid: lease.uid, gid: lease.uid } });
      const pidsMax = hostPidsMax(spec.limits.pids);
      const hostLimits: Limits = { ...spec.limits, pids: pidsMax, cpuCores: bootCpuCores(spec.limits.cpuCores) };
      // Created (limits written) before runsc starts; runsc joins a pre-created cgroup as is, so
      // the sandbox kernel and gofer never run unlimited and the controller reads real counters.
      cgroup = SandboxCgroup.create(layout, this.config.cgroupParent, spec.id, hostLimits);
      createBundleDir(bundle);
      bundleMade = true;
      // The scratch mount, the root (after the grants) and the log FIFO don't depend on each other:
      // their helper processes run at once. Every one is awaited before a failure is handled.
      const [scratch, root, fifo, secrets] = await Promise.allSettled([
        mountScratch(bundle, spec, tools),
        (async () => {
          const grants = await bindGrants(bundle, pins, tools);
          // The host binds now hold the granted inodes; the descriptors have done their job.
          releasePins(pins);
          await mountRoot(bundle, spec.image.rootfs, mountPoints(spec, grants.map((g) => g.kind)), tools, agentLayer === undefined ? [] : [agentLayer]);
          return grants;
        })(),
        // Open before runsc starts: the sandbox kernel's first refused fork is already counted.
        RefusedForkWatch.create(bundle.bootLog, tools.mkfifo),
        // Secrets on a memory filesystem of their own; removeBundle() unmounts it with the rest.
        placeSecrets(bundle, spec.secrets ?? [], tools),
      ]);
      if (fifo.status === 'fulfilled') refusedForks = fifo.value;
      if (scratch.status === 'rejected') throw scratch.reason;
      if (root.status === 'rejected') throw root.reason;
      if (fifo.status === 'rejected') throw fifo.reason;
      if (secrets.status === 'rejected') throw secrets.reason;
      const grants = root.value;
      return new GvisorSandbox({
        spec,
        runsc: tools.runsc,
        refusedForks: fifo.value,
        limitEvents: this.limitEvents,
        agentInRoot: agentLayer !== undefined,
        nsenter: tools.nsenter,
        flags: tools.flags,
        stateDir: this.stateDir,
        bundle,
        tools,
        cgroup,
        cgroupsPath: `/${cgroup.relativePath}`,
        hostPidsMax: pidsMax,
        mountSources: grants.map((g) => g.source),
        seccomp,
        release,
        init,
        // Its binary launches runsc with only the descriptors the sandbox is given (see inherited-fds.ts).
        fdCloser: agent.path,
      });
    } catch (err) {
      refusedForks?.close();
      if (bundleMade) await removeBundle(bundle, tools).catch(() => undefined);
      await cgroup?.remove().catch(() => undefined);
      releasePins(pins);
      release();
      throw err;
    }
  }

  /**
   * Removes what sandboxes of a controller that died left behind (its runsc processes die with it):
   * runsc state, cgroups, mounts and bundles of every sandbox whose ownership record names a dead
   * controller. Returns the ids it removed.
   */
  async reapStale(): Promise<string[]> {
    const records = staleRecords(this.config.runDir, 'gvisor');
    if (records.length === 0) return [];
    const tools = await this.requireTools();
    const layout = this.layout();
    const globalArgs = runscGlobalArgs(tools.flags, { stateDir: this.stateDir });
    const stale = records.map((r) => r.id).filter((id) => ID_RE.test(id));
    for (const id of stale) {
      await removeRunscState(tools.runsc, globalArgs, this.stateDir, id);
      const cgroup = SandboxCgroup.attach(layout, this.config.cgroupParent, id);
      await cgroup.remove();
      await removeForeignCgroups(cgroup);
      await removeBundle(bundlePaths(this.baseDir, id), tools);
      const uid = records.find((r) => r.id === id)?.extra['uid'];
      if (typeof uid === 'number') releaseHostUid(this.config.runDir, uid);
      releaseSandbox(this.config.runDir, id);
    }
    return stale;
  }

  /** Root-only directories: bundles hold the spec (environment included) and runsc's state. */
  private ensureDirs(): void {
    try {
      mkdirSync(this.baseDir, { recursive: true, mode: 0o700 });
      mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ControlError('gvisor', `cannot create ${this.stateDir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private async requireTools(): Promise<Tools> {
    if (this.tools !== undefined) return this.tools;
    const runsc = findExecutable('runsc');
    if (runsc === undefined) throw new ControlError('gvisor', 'runsc is not installed (apt-get install runsc)');
    const mount = findExecutable('mount');
    const umount = findExecutable('umount');
    if (mount === undefined || umount === undefined) throw new ControlError('scratch', 'mount/umount are not installed (apt-get install mount)');
    const mkfifo = findExecutable('mkfifo');
    if (mkfifo === undefined) throw new ControlError('pids', 'mkfifo is not installed (apt-get install coreutils)');
    const version = (await execRunsc(runsc, ['--version'], 10_000)).split('\n')[0]?.trim() ?? 'unknown';
    const flags = parseRunscFlags(await runscFlagsText(runsc));
    const missing = REQUIRED_FLAGS.filter((f) => !flags.has(f));
    if (missing.length > 0) throw new ControlError('gvisor', `${version} lacks required flags: --${missing.join(', --')}`);
    this.tools = { runsc, mkfifo, mount, umount, nsenter: findExecutable('nsenter'), flags, version };
    return this.tools;
  }

  private filter(): OciSeccomp {
    const filter = this.seccomp ?? toOciSeccomp(DEFAULT_PROFILE, hostArch());
    this.seccomp = filter;
    return filter;
  }

  private layout(): CgroupLayout {
    const layout = this.cgroupLayout ?? detectCgroups();
    this.cgroupLayout = layout;
    return layout;
  }
}

/** `runsc flags` prints to stderr on some releases and stdout on others. */
function runscFlagsText(runsc: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(runsc, ['flags'], { env: RUNSC_ENV, timeout: 10_000 }, (err, stdout, stderr) => {
      if (err !== null && String(stdout).length === 0 && String(stderr).length === 0) reject(new Error(`runsc flags: ${err.message}`, { cause: err }));
      else resolve(`${String(stdout)}\n${String(stderr)}`);
    });
  });
}

