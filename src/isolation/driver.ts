/**
 * The one interface every isolation tier implements.
 *
 * Designed against all five planned backends:
 * - `namespace` (bubblewrap): create = cgroup + seccomp fd + argv; start = spawn bwrap.
 * - `gvisor` (runsc): create = OCI bundle + cgroup path; start = `runsc run`.
 * - `microvm` (QEMU/Firecracker): create = boot VM with guest agent; start/exec go over vsock.
 * - `wasm`: create = hardened namespace process hosting the engine; start = load module.
 * - `kubernetes`: create = Pod with RuntimeClass + NetworkPolicy; start/exec = the pod's agent.
 *
 * Drivers know nothing of HTTP, policy, audit or termination policy: they allocate, run, measure
 * and release. Deciding *why* a sandbox ended (timeout, output cap, limit hit) is the runner's job
 * (src/sandbox/), which is identical for every driver.
 */
import type { Readable, Writable } from 'node:stream';
import type { Image } from '../images/image.ts';
import type { SandboxCgroup } from './cgroups/sandbox-cgroup.ts';

/** Names of the isolation tiers. Only some are implemented; see `drivers.ts`. */
export const RUNTIME_NAMES = ['namespace', 'gvisor', 'microvm', 'wasm', 'kubernetes'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

/** What runs a VM's guest: `kvm` (hardware virtualization) or `tcg` (QEMU's emulator, no KVM: much slower). */
export const ACCELERATORS = ['kvm', 'tcg'] as const;
/** One of {@link ACCELERATORS}. */
export type Accelerator = (typeof ACCELERATORS)[number];

/** Resource limits applied to one sandbox. Every field is enforced; none is advisory. */
export interface Limits {
  /** cgroup memory limit (no swap beyond it). */
  memoryMb: number;
  /** CPU quota in cores (cgroup cpu.max / cfs_quota). */
  cpuCores: number;
  /** Maximum number of tasks (cgroup pids.max). */
  pids: number;
  /** Wall-clock limit for the whole execution. */
  timeoutSeconds: number;
  /** Size of the writable scratch tmpfs mounted at /tmp (and the workdir when it is under /tmp). */
  scratchMb: number;
  /** Maximum bytes of stdout+stderr captured or streamed before the sandbox is killed. */
  outputBytes: number;
  /** RLIMIT_NOFILE inside the sandbox. */
  openFiles: number;
}

/** A host path granted to the sandbox. Read-only unless `writable`. */
export interface GrantedMount {
  hostPath: string;
  sandboxPath: string;
  writable: boolean;
  /**
   * A writable grant of a directory the requester owns: the host identity (the directory's owner)
   * that the sandbox's writes are made as, through an id-mapped mount (`namespace` runtime). The
   * grant is then checked as that identity: it exposes nothing its owner couldn't open.
   */
  writeAs?: { uid: number; gid: number } | undefined;
}

/**
 * A secret the sandbox is given: it appears as the read-only file `/run/secrets/<name>` (mode
 * 0400, owned by the sandbox user) on a memory filesystem of the sandbox's own, never in the
 * environment, an argv or on host disk. `bytes()` is read only while the file is placed.
 */
export interface SecretFile {
  /** Checked by the caller against the secret-name rule (src/secrets/names.ts); a file name. */
  readonly name: string;
  bytes(): Buffer;
}

/** Where drivers place `SandboxSpec.secrets`. */
export const SECRETS_MOUNT = '/run/secrets';

/** Everything a driver needs to build one sandbox. */
export interface SandboxSpec {
  /** Unique id (lowercase letters, digits, dashes); used for cgroup and state names. */
  id: string;
  image: Image;
  limits: Limits;
  /** The complete environment of the sandboxed process: nothing else is inherited. */
  env: Record<string, string>;
  mounts: GrantedMount[];
  /** Working directory inside the sandbox. */
  workdir: string;
  /** Which network namespace the sandbox runs in. */
  network: SandboxNetwork;
  /**
   * Content of `/etc/resolv.conf` inside the sandbox (read-only), replacing the image's; absent:
   * the image's own. Set for `full` networks, whose only usable resolvers are public ones.
   */
  resolvConf?: string;
  /**
   * Content of the TLS trust bundle at TRUST_STORE_PATH inside the sandbox (read-only), replacing
   * the image's: set when the sandbox must trust its egress proxy's broker CA (see trust-store.ts).
   */
  trustBundle?: string;
  /**
   * Host directory holding the in-sandbox agent, bound read-only at AGENT_MOUNT for persistent
   * sandboxes (which then start the agent as their main process). Absent for one-shot runs.
   */
  agentDir?: string;
  /** Secrets placed under SECRETS_MOUNT; absent or empty: no SECRETS_MOUNT at all. */
  secrets?: readonly SecretFile[];
  /**
   * Audit login uid unique to this sandbox: where set, the launcher sets it and the filter is
   * loaded a second time with SECCOMP_FILTER_FLAG_LOG, so the kernel audits every denial with it
   * (read by src/sandbox/denials). Absent: denials are refused but not reported.
   */
  denialAuid?: number;
  /**
   * gVisor: called with every call the sandbox kernel's own seccomp filter refused, as its log line
   * is read (its kernel then logs at debug level, the only level that reports them). Absent: such
   * denials are refused but not reported.
   */
  onSeccompDenial?: (denial: SandboxDenial) => void;
  /**
   * `namespace`: called with every write to a watched place (/proc/sys, /sys, /dev beyond the
   * sandbox's devices, /boot) and every connect to a container runtime's socket, which the mounts
   * refuse without a seccomp denial; seen by the agent's --watch-writes supervisor. Absent: such
   * attempts are refused but not reported. gVisor has no seccomp user notification: not used there.
   */
  onPathProbe?: (probe: PathProbe) => void;
}

/** One write or socket probe on a watched path (agent --watch-writes). */
export interface PathProbe {
  /** The escape pattern the supervisor classified it under (kernel_tunable_write, runtime_socket_probe, ...). */
  pattern: string;
  /** The caller's pid in the sandbox. */
  pid: number;
  /** The call: open, openat, openat2, creat, truncate, mknod, mknodat or connect. */
  syscall: string;
  /** The path as the kernel resolved it (`@name` for an abstract socket, `-` when it couldn't be read). */
  path: string;
}

/** One call a sandbox kernel's seccomp filter refused. */
export interface SandboxDenial {
  /** The call's name for the host ABI, or `syscall_<nr>` for a number not in the table. */
  syscall: string;
  syscallNr: number;
  /** The thread id inside the sandbox. */
  pid: number;
}

/**
 * `isolated`: a fresh, empty network namespace made by the runtime (loopback only).
 * `attached`: an existing namespace prepared by src/network (veth to the host, host-side rules),
 * owned by the host's user namespace so the sandbox can never reconfigure it.
 */
export type SandboxNetwork = { kind: 'isolated' } | { kind: 'attached'; netnsPath: string };

/** Where drivers mount `SandboxSpec.agentDir` inside the sandbox (a read-only tmpfs /run holds it). */
export const AGENT_MOUNT = '/run/airlock';

/** The command a sandbox's main process runs. */
export interface CommandSpec {
  argv: string[];
  /** Whether the caller will write to stdin; otherwise stdin is /dev/null. */
  stdin: boolean;
}

/** The main process of a started sandbox, as seen from the host. */
export interface SandboxProcess {
  stdout: Readable;
  stderr: Readable;
  stdin: Writable | null;
  /** Resolves once the sandbox's main process has ended (never rejects). */
  exit: Promise<ProcessExit>;
}

export interface ProcessExit {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the runtime failed to set the sandbox up and the command never ran. */
  setupError?: string;
}

/** Measured from the cgroup, never estimated. */
export interface ResourceSample {
  /** Total CPU time consumed, in nanoseconds. */
  cpuNanos: number;
  /** Peak memory charged to the sandbox's cgroup, in bytes. */
  memoryPeakBytes: number;
  /** Number of times the kernel OOM killer acted inside the sandbox. */
  oomKills: number;
  /** Number of fork/clone calls refused by the pids limit. */
  pidsLimitHits: number;
  /** True when the scratch filesystem was observed full. */
  scratchFull: boolean;
  /** True when a sandbox process was observed holding RLIMIT_NOFILE descriptors (sampled). */
  openFilesLimitHit?: boolean;
}

/** What a limit watch reports to the runner, which then reads `stats()` and decides. */
export interface LimitListener {
  /** A limit counter may have moved (an event, or a counter `poll()` found changed). */
  changed(): void;
  /** An event source stopped working (why, naming it): the runner samples `stats()` from now on. */
  failed(reason: string): void;
}

/** Event sources armed for one sandbox (see {@link Sandbox.watchLimits}). */
export interface LimitWatch {
  /**
   * Undefined when events cover every limit counter. Otherwise which counter has no event source
   * here and why: the runner then calls `poll()` at its shared cadence (a cheap read of just
   * those counters, calling `changed()` when one moved).
   */
  readonly polled: string | undefined;
  poll(): void;
  /** Stops every source; idempotent. */
  close(): void;
}

export interface Availability {
  available: boolean;
  /** Why not, naming what is missing (a binary, a kernel feature, a permission). */
  reason?: string;
  /** Engine version and other facts worth showing in `airlock doctor`. */
  details: Record<string, string>;
}

/** One sandbox, created by a driver. `destroy()` must be safe to call at any point, twice. */
export interface Sandbox {
  readonly id: string;
  readonly runtime: RuntimeName;
  /** A VM's accelerator (microvm); absent on runtimes that run no VM. */
  readonly accelerator?: Accelerator;
  /** Starts the sandbox's main process. May be called once. */
  start(command: CommandSpec): Promise<SandboxProcess>;
  /** Current counters of the sandbox's cgroup (and scratch). */
  stats(): Promise<ResourceSample>;
  /**
   * Watches the limit counters (`oomKills`, `pidsLimitHits`) through the kernel's own events, so
   * that an idle sandbox costs no work. Rejects, naming the source, when one can't be set up;
   * absent when the driver has none. Either way the caller samples `stats()` instead.
   */
  watchLimits?(listener: LimitListener): Promise<LimitWatch>;
  /** A host pid inside the sandbox's network namespace (to watch it), once started and while running. */
  networkPid(): number | undefined;
  /** What a forensic capture reads from the host side; absent on a driver without one. */
  forensicAccess?(): ForensicAccess;
  /** Kills every process of the sandbox at once. */
  stop(): Promise<void>;
  /** Releases everything: processes, cgroups, mounts, state and scratch directories. */
  destroy(): Promise<void>;
}

/** A sandbox as a forensic capture sees it from the host: its cgroup, its scratch, its runtime's pause. */
export interface ForensicAccess {
  /** The sandbox's cgroup (its cgroup.procs lists the host pids of every process). */
  readonly cgroup: SandboxCgroup;
  /** Host path of the sandbox's writable scratch (its /tmp), while there is one. */
  readonly scratchDir: string | undefined;
  /** gVisor: runsc and its global arguments, to pause, resume and checkpoint the sandbox. */
  readonly runsc?: { readonly binary: string; readonly globalArgs: readonly string[]; readonly containerId: string };
  /** microvm: the VMM whose address space holds the guest's RAM (undefined: not running), and the RAM's size (which finds its mapping). */
  readonly guestRam?: { readonly pid: number | undefined; readonly bytes: number };
}

export interface IsolationDriver {
  readonly runtime: RuntimeName;
  /** Whether this host can run the driver, and if not, what is missing. Cached by callers. */
  probe(): Promise<Availability>;
  /** Allocates a sandbox; every control of the hardening floor is applied or this rejects. */
  create(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Releases what sandboxes of crashed controllers left behind (cgroups, leases, bundles,
   * mounts); returns their ids. Sandboxes of live controllers are never touched.
   */
  reapStale(): Promise<string[]>;
}
