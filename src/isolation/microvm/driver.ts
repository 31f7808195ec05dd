/**
 * The `microvm` tier: each sandbox a QEMU `-M microvm` guest (KVM where it works, TCG otherwise)
 * booting Debian's cloud kernel, an initramfs whose init authenticates the controller and starts
 * the agent chrooted into the image's read-only erofs root, as uid 65534 under the project's
 * seccomp filter. The VMM itself is held to the namespace tier's host floor (own uid, own network
 * namespace or the slot's, cgroup limits, seccomp, no inherited descriptors, no host paths).
 *
 * This build runs one-shot commands and persistent sandboxes (the caller talks to the guest's
 * agent over the channel; the guest runs the agent build baked into its initramfs, from the same
 * verified source) with network `none`, `restricted` or `full` (the VMM in the slot's namespace,
 * the guest's eth0 on a tap there: tap.ts). Secrets travel in the authenticated handshake and
 * land as 0400 files on a read-only guest tmpfs; a brokered secret's trust bundle as a read-only
 * file over the image's. Grants are virtio-fs shares, each served by a jailed virtiofsd running as
 * the VMM's uid (file-server.ts), mounted by the guest init (guest/airlock-vm-init.c).
 */
import { ensureAgent, type AgentStamps } from '../../agent/build.ts';
import { ControlError } from '../../host/control-error.ts';
import { claimSandbox, releaseSandbox, staleRecords } from '../../host/ownership.ts';
import { leaseHostUid, releaseHostUid } from '../../host/uid-lease.ts';
import { findExecutable } from '../../host/which.ts';
import type { AirlockConfig } from '../../config/config.ts';
import type { BuildStamps } from '../../host/c-build.ts';
import { detectCgroups, SandboxCgroup, type CgroupLayout } from '../cgroups/index.ts';
import { CgroupLimitEvents } from '../cgroups/limit-events.ts';
import { CgroupV1Events, ensureCgroupEventsHelper } from '../cgroups/v1-events.ts';
import type { Accelerator, Availability, IsolationDriver, Sandbox, SandboxSpec } from '../driver.ts';
import { checkMountTargets, checkWorkdir } from '../mount-targets.ts';
import { pinMounts, releasePins, type PinnedMount } from '../mount-pins.ts';
import { stageGrants, unstageGrants } from '../grants/staging.ts';
import { compileBpf, DEFAULT_PROFILE, FILE_SERVER_PROFILE, hostArch } from '../seccomp/index.ts';
import { FILE_SERVER_MB, findFileServer } from './file-server.ts';
import { checkMaskedPaths } from '../../images/masked-paths.ts';
import { checkSecretFiles } from '../secret-files.ts';
import type { ArtefactStamps } from './artefacts.ts';
import { cachedGuestKernel, ensureGuestKernel, KERNEL_METAPACKAGE } from './kernel.ts';
import { defaultInitramfsInputs, ensureInitramfs } from './initramfs.ts';
import { ensureRootImage } from './rootfs.ts';
import { detectAccel, hostTscKhz, qemuArgs, requireQemu, vmSizes } from './qemu.ts';
import { makeSandboxDir, MicrovmSandbox, VMM_TASKS, type MicrovmResources, type VmmTools } from './sandbox.ts';
import { snapshotPlan, type GuestShape } from './snapshot.ts';
import { ensureTapOpener, prepareGuestTap } from './tap.ts';
import { chmodSync, fstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';

/**
 * A grant inside another's target would need its mount point made in the host directory the outer
 * one shares: refused, naming both, rather than writing to the host or hiding one grant under another.
 */
function refuseNestedGrants(spec: SandboxSpec): void {
  const targets = spec.mounts.map((m) => m.sandboxPath);
  for (const inner of targets) {
    const outer = targets.find((t) => t !== inner && inner.startsWith(t === '/' ? '/' : `${t}/`));
    if (outer !== undefined) throw new ControlError('filesystem_access', `${inner} is inside the grant at ${outer}: the microvm runtime does not nest grants`);
  }
}

/** Sandbox ids become paths and cgroup names: nothing but these characters. */
const ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Options of {@link MicrovmDriver}. */
export interface MicrovmDriverOptions {
  config: AirlockConfig;
  /** Start guests from snapshots where their shape allows (snapshot.ts); default: the configuration's `microvm.snapshots`. */
  snapshots?: boolean;
}

/** Runs one-shot sandboxes in QEMU microvm guests. */
export class MicrovmDriver implements IsolationDriver {
  readonly runtime = 'microvm' as const;
  private readonly config: AirlockConfig;
  private readonly agentStamps: AgentStamps = new Map();
  private readonly buildStamps: BuildStamps = new Map();
  private readonly artefactStamps: ArtefactStamps = new Map();
  private readonly limitEvents: CgroupLimitEvents;
  private cgroupLayout: CgroupLayout | undefined;
  private seccompBpf: Buffer | undefined;
  private fileServerBpf: Buffer | undefined;
  /** The accelerator and (under TCG) the TSC frequency, read from the host once, not on every create. */
  private cpu: { accel: Accelerator; tscKhz: number | undefined } | undefined;
  private readonly snapshots: boolean;
  /** Snapshots whose capture failed: not tried again by this driver. */
  private readonly uncapturable = new Set<string>();

  constructor(options: MicrovmDriverOptions) {
    this.config = options.config;
    this.snapshots = options.snapshots ?? options.config.microvm.snapshots;
    this.limitEvents = new CgroupLimitEvents({ v1: new CgroupV1Events(() => ensureCgroupEventsHelper(options.config)) });
  }

  /** `${runDir}/microvm`: one root-only directory per live sandbox. */
  get baseDir(): string {
    return `${this.config.runDir}/microvm`;
  }

  async probe(): Promise<Availability> {
    const details: Record<string, string> = {};
    try {
      const accel = detectAccel();
      details['accel'] = accel.accel === 'kvm' ? 'kvm' : `tcg (emulated: ${accel.reason})`;
      details['vmm'] = `QEMU microvm (${requireQemu()})`;
      const firecracker = findExecutable('firecracker');
      details['firecracker'] = firecracker === undefined ? 'not installed (QEMU is used)' : `${firecracker} found; not used by this build`;
      await this.requireTools();
      details['cgroups'] = `v${this.layout().version}`;
      details['guest kernel'] = cachedGuestKernel(this.config.stateDir) ?? `not fetched yet (the first microvm run fetches ${KERNEL_METAPACKAGE} with apt-get download)`;
      const built = (kind: string, ext: string) => {
        try {
          return readdirSync(`${this.config.stateDir}/microvm/${kind}`).filter((n) => n.endsWith(ext)).length;
        } catch {
          return 0;
        }
      };
      details['guest artefacts'] = `${built('initramfs', '.cpio')} initramfs, ${built('erofs', '.erofs')} image root(s) built (the first run of an image builds its own)`;
      details['snapshots'] = this.snapshots ? `on: ${built('snapshot', '.vmstate')} kept (the first start of a shape captures its own; grants boot cold)` : 'off (microvm.snapshots: every guest boots cold)';
      details['mkfs.erofs'] = findExecutable('mkfs.erofs') ?? 'missing (apt-get install erofs-utils)';
      const fileServer = findFileServer();
      details['grants'] = fileServer === undefined ? 'refused: no virtiofsd (apt-get install qemu-system-common, or virtiofsd)' : `virtio-fs, served by ${fileServer.path}`;
      if (process.getuid?.() !== 0) throw new ControlError('microvm', 'the controller needs root to give the VMM its own uid, network namespace and cgroup');
      if (hostArch() !== 'x86_64') throw new ControlError('microvm', `this build boots x86-64 guests only (host: ${hostArch()})`);
      if (findExecutable('mkfs.erofs') === undefined) throw new ControlError('microvm', 'mkfs.erofs is needed to build guest roots (apt-get install erofs-utils)');
      return { available: true, details };
    } catch (err) {
      return { available: false, reason: (err as Error).message, details };
    }
  }

  async create(spec: SandboxSpec): Promise<Sandbox> {
    if (!ID_RE.test(spec.id)) throw new ControlError('sandbox id', `"${spec.id}" is not lowercase letters, digits and dashes`);
    refuseNestedGrants(spec);
    const fileServer = spec.mounts.length === 0 ? undefined : findFileServer();
    if (spec.mounts.length > 0 && fileServer === undefined) throw new ControlError('filesystem_access', 'no virtiofsd on this host to serve grants to a microvm (apt-get install qemu-system-common, or virtiofsd)');
    // Secret names become file names in the guest: refused here, before anything exists.
    checkSecretFiles(spec.secrets ?? []);
    if (spec.resolvConf !== undefined && spec.network.kind !== 'attached') throw new ControlError('network', 'a resolver configuration needs an attached network');
    const nsenter = spec.network.kind === 'attached' ? findExecutable('nsenter') : undefined;
    if (spec.network.kind === 'attached' && nsenter === undefined) throw new ControlError('network', 'nsenter is not installed (apt-get install util-linux)');
    checkWorkdir(spec);
    // The image's masked paths are checked here too: a driver never trusts how its Image was obtained.
    checkMaskedPaths(spec.image.rootfs);
    const tools = await this.requireTools();
    const { accel, tscKhz } = this.hostCpu();
    const kernel = await ensureGuestKernel(this.config.stateDir, this.artefactStamps);
    const initrd = await ensureInitramfs(this.config.stateDir, await defaultInitramfsInputs(this.config.stateDir, kernel, { builds: this.buildStamps, agentPath: tools.fdCloser, seccompBpf: this.filter() }), this.buildStamps, this.artefactStamps);
    const root = await ensureRootImage(this.config.stateDir, spec.image, this.artefactStamps);
    const vm = vmSizes(spec.limits.memoryMb, spec.limits.cpuCores);
    // Each grant's file server runs in the VMM's cgroup: its share of memory is added to the VMM's.
    const sizes = { ...vm, hostMb: vm.hostMb + FILE_SERVER_MB * spec.mounts.length };
    // Traversable, not listable: see makeSandboxDir.
    mkdirSync(this.baseDir, { recursive: true, mode: 0o711 });
    chmodSync(this.baseDir, 0o711);
    const lease = leaseHostUid(this.config.runDir, this.config.hostUidBase, this.config.hostUidCount);
    // Recorded before anything else exists, so a crash at any later point leaves a reapable trail.
    claimSandbox(this.config.runDir, spec.id, 'microvm', { uid: lease.uid });
    const release = () => {
      // Record first: a uid released while a record still names it could be reaped from its next holder.
      releaseSandbox(this.config.runDir, spec.id);
      lease.release();
    };
    let cgroup: SandboxCgroup | undefined;
    const dir = `${this.baseDir}/${spec.id}`;
    let madeDir = false;
    let pins: PinnedMount[] = [];
    try {
      // Checked as the VMM's uid, which is what serves them (T23); pinned, so no symlink is followed later (T24).
      // Why without writeAs: QEMU writes as the VMM's uid, so an id-mapped grant can't map its writes; it is checked as that uid like any other.
      const checked = await pinMounts(spec.mounts.map(({ writeAs: _owner, ...mount }) => mount), { stateDirs: [this.config.stateDir, this.config.runDir], user: { uid: lease.uid, gid: lease.uid } });
      const isDir = checked.map((pin) => fstatSync(pin.fd).isDirectory());
      try {
        checkMountTargets(spec, isDir);
        // bubblewrap turns a descriptor back into a path: the file servers get binds of the pinned inodes that no one else can swap.
        pins = await stageGrants(this.config.runDir, spec.id, checked, tools, { uid: lease.uid, gid: lease.uid });
      } catch (err) {
        releasePins(checked);
        throw err;
      }
      // The staged pins are in the order of the checked ones.
      const grants = fileServer === undefined ? undefined : { shares: pins.map((pin, i) => ({ pin, file: isDir[i] !== true })), server: { binary: fileServer, seccompBpf: this.fileServerFilter() } };
      // The host cgroup holds the VMM: guest RAM + VMM overhead; the workload's own limit is the guest cgroup's.
      cgroup = SandboxCgroup.create(this.layout(), this.config.cgroupParent, spec.id, { ...spec.limits, memoryMb: sizes.hostMb, pids: VMM_TASKS, cpuCores: Math.max(1, spec.limits.cpuCores) });
      makeSandboxDir(dir);
      madeDir = true;
      // Fail closed: a guest whose tap can't be made doesn't start (the slot's release removes what was made).
      const network = spec.network.kind === 'attached' && nsenter !== undefined
        ? { netnsPath: spec.network.netnsPath, nsenter, tapOpener: await ensureTapOpener(this.config.stateDir, this.buildStamps), guest: await prepareGuestTap(spec.network.netnsPath, spec.resolvConf, nsenter) }
        : undefined;
      const files = { kernel: kernel.vmlinuz, initrd, root };
      const snapshot = grants === undefined ? await this.snapshot({ qemu: tools.qemu, args: qemuArgs(accel, sizes, tscKhz, network !== undefined), files }) : undefined;
      return new MicrovmSandbox({ spec, accel, sizes, tscKhz, tools, cgroup, limitEvents: this.limitEvents, lease, dir, runDir: this.config.runDir, files, grants, network, snapshot, release });
    } catch (err) {
      releasePins(pins);
      await unstageGrants(this.config.runDir, spec.id, tools.umount);
      await cgroup?.remove().catch(() => undefined);
      if (madeDir) rmSync(dir, { recursive: true, force: true });
      release();
      throw err;
    }
  }

  async reapStale(): Promise<string[]> {
    const reaped: string[] = [];
    for (const record of staleRecords(this.config.runDir, 'microvm')) {
      if (!ID_RE.test(record.id)) continue;
      // The VMM died with its controller (--pdeathsig KILL); kill stragglers, then release.
      await SandboxCgroup.attach(this.layout(), this.config.cgroupParent, record.id).remove();
      const stillMounted = await unstageGrants(this.config.runDir, record.id, findExecutable('umount') ?? 'umount');
      if (stillMounted.length > 0) throw new ControlError('filesystem_access', `staged grants of ${record.id} are still mounted: ${stillMounted.join(', ')}`);
      rmSync(`${this.baseDir}/${record.id}`, { recursive: true, force: true });
      if (typeof record.extra['uid'] === 'number') releaseHostUid(this.config.runDir, record.extra['uid']);
      releaseSandbox(this.config.runDir, record.id);
      reaped.push(record.id);
    }
    return reaped;
  }

  private async requireTools(): Promise<VmmTools> {
    const qemu = requireQemu();
    const sh = '/bin/sh';
    const bwrap = findExecutable('bwrap');
    if (bwrap === undefined) throw new ControlError('microvm', 'bubblewrap is needed to give the VMM a root of its own (apt-get install bubblewrap)');
    const setpriv = findExecutable('setpriv');
    if (setpriv === undefined || !setpriv.startsWith('/usr/')) throw new ControlError('microvm', 'setpriv under /usr is needed to drop the VMM to its uid (apt-get install util-linux)');
    if (!qemu.startsWith('/usr/')) throw new ControlError('microvm', `${qemu} is outside /usr, the only host directory the VMM sees`);
    const [mount, umount] = [findExecutable('mount'), findExecutable('umount')];
    if (mount === undefined || umount === undefined) throw new ControlError('microvm', 'mount and umount are needed to stage grants (apt-get install mount)');
    const agent = await ensureAgent(this.config, undefined, this.agentStamps);
    return { qemu, sh, bwrap, setpriv, fdCloser: agent.path, mount, umount };
  }

  /** How a guest of `shape` starts (snapshot.ts): restored, captured on the way, or booted plainly. */
  private async snapshot(shape: GuestShape): Promise<MicrovmResources['snapshot']> {
    if (!this.snapshots) return undefined;
    const plan = await snapshotPlan(this.config.stateDir, shape, { keep: this.config.microvm.keepSnapshots, uncapturable: this.uncapturable }, this.artefactStamps);
    if (plan === undefined) return undefined;
    let settled = false;
    return {
      plan,
      // Once: after its capture (or a destroy before any), the lock may already be another start's.
      settled: (error) => {
        if (plan.kind !== 'capture' || settled) return;
        settled = true;
        plan.release();
        if (error !== undefined) this.uncapturable.add(plan.path);
      },
    };
  }

  private filter(): Buffer {
    const bpf = this.seccompBpf ?? compileBpf(DEFAULT_PROFILE, hostArch());
    this.seccompBpf = bpf;
    return bpf;
  }

  private fileServerFilter(): Buffer {
    const bpf = this.fileServerBpf ?? compileBpf(FILE_SERVER_PROFILE, hostArch());
    this.fileServerBpf = bpf;
    return bpf;
  }

  private hostCpu(): { accel: Accelerator; tscKhz: number | undefined } {
    if (this.cpu === undefined) {
      const accel = detectAccel().accel;
      this.cpu = { accel, tscKhz: accel === 'tcg' ? hostTscKhz() : undefined };
    }
    return this.cpu;
  }

  private layout(): CgroupLayout {
    const layout = this.cgroupLayout ?? detectCgroups();
    this.cgroupLayout = layout;
    return layout;
  }
}
