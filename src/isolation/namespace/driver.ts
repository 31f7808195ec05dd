/**
 * The `namespace` tier: bubblewrap with every namespace, an unprivileged host uid, the project's
 * seccomp filter, cgroup limits and a read-only image root.
 */
import { execFile } from 'node:child_process';
import { type Availability, type IsolationDriver, type Sandbox, type SandboxSpec } from '../driver.ts';
import { checkSecretFiles } from '../secret-files.ts';
import { ControlError } from '../../host/control-error.ts';
import { detectCgroups, SandboxCgroup, type CgroupLayout } from '../cgroups/index.ts';
import { leaseHostUid, releaseHostUid } from '../../host/uid-lease.ts';
import { claimSandbox, releaseSandbox, staleRecords } from '../../host/ownership.ts';
import { pinMounts, releasePins } from '../mount-pins.ts';
import { checkMountTargets } from '../mount-targets.ts';
import { rootWithMountPoints } from './root-layout.ts';
import { stageGrants, unstageGrants } from '../grants/staging.ts';
import { checkMaskedPaths } from '../../images/masked-paths.ts';
import { statSync } from 'node:fs';
import { compileBpf, DEFAULT_PROFILE, hostArch } from '../seccomp/index.ts';
import { findExecutable } from '../../host/which.ts';
import { procMaskBinds, type ProcMaskBind } from '../proc-masks.ts';
import type { AirlockConfig } from '../../config/config.ts';
import { NamespaceSandbox } from './sandbox.ts';
import { agentDirOf, ensureAgent, type AgentStamps } from '../../agent/build.ts';
import { prepareConfinement, type Confinement } from '../apparmor/index.ts';
import { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import { CgroupV1Events, ensureCgroupEventsHelper } from '../cgroups/v1-events.ts';

// node:util taken as a builtin, not imported: an ES import of it loads every lazy part of it
// (worker_threads among them), a few ms of every short run's start-up.
const run = process.getBuiltinModule('node:util').promisify(execFile);

export interface NamespaceDriverOptions {
  config: AirlockConfig;
}

export class NamespaceDriver implements IsolationDriver {
  readonly runtime = 'namespace' as const;
  private readonly config: AirlockConfig;
  /** Agent builds already verified, re-hashed only when the file changes (see ensureAgent). */
  private readonly agentStamps: AgentStamps = new Map();
  /** Computed on first use and reused: the filter is the same for every sandbox. */
  private seccompBpf: Buffer | undefined;
  private cgroupLayout: CgroupLayout | undefined;
  private procMasks: readonly ProcMaskBind[] | undefined;
  private tools: { bwrap: string; nsenter: string; mount: string; umount: string } | undefined;
  /** The AppArmor profile, loaded on the first start and reused; a failed load is retried next start. */
  private apparmor: Promise<Confinement | undefined> | undefined;
  /** Kernel events for every sandbox's limit counters (the v1 helper starts with the first watch). */
  private readonly limitEvents: CgroupLimitEvents;

  constructor(options: NamespaceDriverOptions) {
    this.config = options.config;
    this.limitEvents = new CgroupLimitEvents({ v1: new CgroupV1Events(() => ensureCgroupEventsHelper(options.config)) });
  }

  async probe(): Promise<Availability> {
    const details: Record<string, string> = {};
    try {
      const tools = this.requireTools();
      const { stdout } = await run(tools.bwrap, ['--version']);
      details['bwrap'] = stdout.trim();
      details['cgroups'] = `v${this.layout().version}`;
      details['seccomp'] = `${this.filter().length / 8} BPF instructions (${hostArch()})`;
      // Prove that an unprivileged uid can create the user namespace bwrap needs.
      await run(tools.bwrap, ['--unshare-user', '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', '--', '/bin/true'], {
        uid: this.config.hostUidBase,
        gid: this.config.hostUidBase,
        env: { PATH: '/usr/bin:/bin' },
      }).catch((err: { stderr?: string }) => {
        throw new ControlError('user namespaces', `an unprivileged uid can't create a user namespace: ${err.stderr?.trim() ?? err}`);
      });
      return { available: true, details };
    } catch (err) {
      return { available: false, reason: (err as Error).message, details };
    }
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    // Secret names become file names: refused here, before anything exists.
    checkSecretFiles(spec.secrets ?? []);
    const tools = this.requireTools();
    // The image's masked paths are checked here too: a driver never trusts how its Image was obtained.
    checkMaskedPaths(spec.image.rootfs);
    const seccompBpf = this.filter();
    const layout = this.layout();
    // Its binary launches bwrap with only the descriptors the sandbox is given (see inherited-fds.ts).
    const fdCloser = (await ensureAgent(this.config, undefined, this.agentStamps)).path;
    // Fail closed: where AppArmor is active, no sandbox starts unless its profile is in force.
    const confinement = await this.confinement();
    const lease = leaseHostUid(this.config.runDir, this.config.hostUidBase, this.config.hostUidCount);
    let cgroup: SandboxCgroup | undefined;
    // Recorded before anything else exists, so a crash at any later point leaves a reapable trail.
    claimSandbox(this.config.runDir, spec.id, 'namespace', { uid: lease.uid });
    try {
      // +1 task: bwrap's monitor process lives in the sandbox cgroup too, so the workload keeps its full count.
      cgroup = SandboxCgroup.create(layout, this.config.cgroupParent, spec.id, { ...spec.limits, pids: spec.limits.pids + 1 });
      // A grant exposes only what this sandbox's own host uid could open itself (bwrap runs as it).
      const checked = await pinMounts(spec.mounts, { stateDirs: [this.config.stateDir, this.config.runDir], user: { uid: lease.uid, gid: lease.uid } });
      let root: string[] | undefined;
      try {
        const missing = checkMountTargets(spec, checked.map((p) => statSync(`/proc/self/fd/${p.fd}`).isDirectory()));
        if (missing.length > 0) root = rootWithMountPoints(spec.image.rootfs, missing);
      } catch (err) {
        releasePins(checked);
        throw err;
      }
      let pins;
      try {
        // bwrap turns a descriptor back into a path: it gets binds of the pinned inodes that no one else can swap.
        // Grants written as their owner become id-mapped mounts onto this sandbox's host identity (made by the agent binary).
        pins = await stageGrants(this.config.runDir, spec.id, checked, { ...tools, idmap: { agent: fdCloser, hostUid: lease.uid, hostGid: lease.uid } }, { uid: lease.uid, gid: lease.uid });
      } catch (err) {
        releasePins(checked);
        throw err;
      }
      const release = async () => {
        // A record stays (for the reaper) while anything staged is still mounted.
        if ((await unstageGrants(this.config.runDir, spec.id, tools.umount)).length === 0) releaseSandbox(this.config.runDir, spec.id);
      };
      return new NamespaceSandbox({ spec, cgroup, lease, pins, seccompBpf, procMasks: this.masks(), ...(root === undefined ? {} : { root }), bwrapPath: tools.bwrap, nsenterPath: tools.nsenter, fdCloser, ...(confinement === undefined ? {} : { confinement: { profile: confinement.profile, agentDir: agentDirOf(fdCloser) } }), limitEvents: this.limitEvents, release });
    } catch (err) {
      await cgroup?.remove().catch(() => undefined);
      lease.release();
      await unstageGrants(this.config.runDir, spec.id, tools.umount);
      releaseSandbox(this.config.runDir, spec.id);
      throw err;
    }
  }

  async reapStale(): Promise<string[]> {
    const reaped: string[] = [];
    for (const record of staleRecords(this.config.runDir, 'namespace')) {
      // Its processes died with their controller (--die-with-parent); kill stragglers, then release.
      await SandboxCgroup.attach(this.layout(), this.config.cgroupParent, record.id).remove();
      const stillMounted = await unstageGrants(this.config.runDir, record.id, this.requireTools().umount);
      if (stillMounted.length > 0) throw new ControlError('filesystem_access', `staged grants of ${record.id} are still mounted: ${stillMounted.join(', ')}`);
      if (typeof record.extra['uid'] === 'number') releaseHostUid(this.config.runDir, record.extra['uid']);
      releaseSandbox(this.config.runDir, record.id);
      reaped.push(record.id);
    }
    return reaped;
  }

  private requireTools(): { bwrap: string; nsenter: string; mount: string; umount: string } {
    if (this.tools !== undefined) return this.tools;
    const bwrap = findExecutable('bwrap');
    if (bwrap === undefined) throw new ControlError('namespace', 'bubblewrap is not installed (apt-get install bubblewrap)');
    const nsenter = findExecutable('nsenter');
    if (nsenter === undefined) throw new ControlError('network', 'nsenter is not installed (apt-get install util-linux)');
    const mount = findExecutable('mount');
    const umount = findExecutable('umount');
    if (mount === undefined || umount === undefined) throw new ControlError('filesystem_access', 'mount/umount are not installed (apt-get install mount)');
    this.tools = { bwrap, nsenter, mount, umount };
    return this.tools;
  }

  private confinement(): Promise<Confinement | undefined> {
    this.apparmor ??= prepareConfinement(this.config.runDir).catch((err: unknown) => {
      this.apparmor = undefined;
      throw err;
    });
    return this.apparmor;
  }

  /** Made and checked once per driver: the replacements are the same for every sandbox. */
  private masks(): readonly ProcMaskBind[] {
    const binds = this.procMasks ?? procMaskBinds(this.config.stateDir);
    this.procMasks = binds;
    return binds;
  }

  private filter(): Buffer {
    const bpf = this.seccompBpf ?? compileBpf(DEFAULT_PROFILE, hostArch());
    this.seccompBpf = bpf;
    return bpf;
  }

  private layout(): CgroupLayout {
    const layout = this.cgroupLayout ?? detectCgroups();
    this.cgroupLayout = layout;
    return layout;
  }
}
