/**
 * Builds the OCI runtime spec (config.json) that runsc boots a sandbox from. Pure: every host
 * path it names is handed in, so tests can check the hardening without a host.
 *
 * Deny by default: nothing of the host appears inside except the read-only image root, the
 * sandbox's own scratch tmpfs, two empty read-only placeholders that hide devices, and the
 * mounts the request was granted.
 */
import { posix } from 'node:path';
import { AGENT_MOUNT, SECRETS_MOUNT, type CommandSpec, type SandboxSpec } from '../driver.ts';
import { ControlError } from '../../host/control-error.ts';
import { isAtOrUnder } from '../../host/paths.ts';
import type { OciSeccomp } from '../seccomp/index.ts';
import { PROC_MASKS } from '../proc-masks.ts';
import { TRUST_STORE_PATH } from '../trust-store.ts';

/** The identity of every sandboxed process: nobody, never root inside. */
export const SANDBOX_UID = 65534;

/** Size of /dev/shm (POSIX shared memory); the same 16 MiB the namespace tier gives. */
export const SHM_MB = 16;

const CPU_PERIOD_US = 100_000;

/**
 * Masked paths: the /proc list both runtimes share, and runc's /sys defaults. runsc's own /proc
 * and /sys show none of the host; the list is kept for any runtime that reads it.
 */
export const MASKED_PATHS: readonly string[] = Object.freeze([
  ...PROC_MASKS.map((mask) => mask.path),
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]);

/** runc's default read-only paths. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** Sandbox paths a granted mount may not cover: they would undo the masks above or the scratch limit. */
const RESERVED_PREFIXES = ['/proc', '/sys', '/dev'];
const RESERVED_EXACT = ['/', '/tmp'];

/** Host-side facts the spec refers to; all of them are created by the driver for this sandbox. */
export interface OciHostPaths {
  /** The read-only host view of the image that runsc boots as / (see rootfs.ts). */
  rootfs: string;
  /** Host directory holding this sandbox's size-limited scratch tmpfs, bound at /tmp. */
  scratchDir: string;
  /** An empty, root-owned file of mode 0 (unopenable inside) bound over device nodes that must not exist. */
  emptyFile: string;
  /** An empty, root-owned, read-only directory bound over device directories that must not exist. */
  emptyDir: string;
  /** Bind source per `spec.mounts` entry, same order (a pinned `/proc/<pid>/fd/<n>` path). */
  mountSources: string[];
  /** Absolute cgroup path (`/<parent>/<id>`) the driver created with the limits already written. */
  cgroupsPath: string;
  /** pids.max of that cgroup: the host-side backstop covering the runtime's own threads. */
  hostPidsMax: number;
  /**
   * Run the command under the agent's `--init` (from `spec.agentDir`): gVisor makes the workload
   * itself pid 1, where it can't be killed by its own signals and nothing reaps orphans.
   */
  init?: boolean;
  /** The agent is already in the root (a layer of its overlay, see agent-layer.ts): no bind of `spec.agentDir`. */
  agentInRoot?: boolean;
  /** Host file with `spec.resolvConf`, bound read-only at /etc/resolv.conf when set. */
  resolvConf?: string;
  /** Host file with `spec.trustBundle`, bound read-only at TRUST_STORE_PATH when set. */
  trustBundle?: string;
  /** Host tmpfs holding `spec.secrets` (see secrets.ts), bound read-only at SECRETS_MOUNT when set. */
  secretsDir?: string;
}

/** The init wrapper the command runs under when `OciHostPaths.init` is set. */
export const INIT_PREFIX = [`${AGENT_MOUNT}/airlock-agent`, '--init', '--'] as const;

/** The subset of the OCI runtime spec this driver writes. */
export interface OciSpec {
  ociVersion: string;
  process: {
    terminal: false;
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>;
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: true;
  };
  root: { path: string; readonly: true };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string }[];
    cgroupsPath: string;
    resources: {
      memory: { limit: number; swap: number };
      cpu: { quota: number; period: number };
      pids: { limit: number };
    };
    seccomp: OciSeccomp;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** One OCI mount entry. */
export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** Refuses anything that is not a clean absolute path (no `..`, no `//`, no trailing `/`). */
export function checkSandboxPath(what: string, path: string): void {
  if (!path.startsWith('/') || posix.normalize(path) !== path || (path.length > 1 && path.endsWith('/')) || path.includes('\0')) {
    throw new ControlError(what, `"${path}" is not a clean absolute path`);
  }
}

/** Builds config.json for `spec` running `command`. Throws a ControlError naming any input it refuses. */
export function buildOciSpec(spec: SandboxSpec, command: CommandSpec, seccomp: OciSeccomp, host: OciHostPaths): OciSpec {
  if (command.argv.length === 0) throw new ControlError('command', 'argv is empty');
  checkSandboxPath('workdir', spec.workdir);
  if (host.mountSources.length !== spec.mounts.length) {
    throw new ControlError('filesystem_access', `${spec.mounts.length} granted mounts but ${host.mountSources.length} sources`);
  }
  const { limits } = spec;
  const memoryBytes = limits.memoryMb * 1024 * 1024;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      // Non-root inside: no capability can be regained, setuid binaries don't elevate (no_new_privs).
      user: { uid: SANDBOX_UID, gid: SANDBOX_UID, additionalGids: [] },
      args: host.init === true ? [...INIT_PREFIX, ...command.argv] : [...command.argv],
      env: buildEnv(spec.env),
      cwd: spec.workdir,
      // Every capability set empty.
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: [
        { type: 'RLIMIT_NOFILE', hard: limits.openFiles, soft: limits.openFiles },
        // No core dumps: a crash must not write sandbox memory anywhere.
        { type: 'RLIMIT_CORE', hard: 0, soft: 0 },
        // The guest task limit: runsc's kernel enforces it (EAGAIN) on the sandbox's own tasks, which
        // are not host pids; the cgroup's pids.max only bounds the runtime's host threads.
        { type: 'RLIMIT_NPROC', hard: limits.pids, soft: limits.pids },
      ],
      noNewPrivileges: true,
    },
    // The verified image, read-only: nothing in it can be changed, nothing else of the host is visible.
    root: { path: host.rootfs, readonly: true },
    hostname: 'sandbox',
    mounts: [...systemMounts(host), ...resolvConfMount(host), ...trustBundleMount(host), ...agentMount(spec, host), ...secretsMount(spec, host), ...grantedMounts(spec, host.mountSources)],
    linux: {
      // runsc gives the sandbox its own kernel; these are the namespaces of that kernel, all fresh.
      // An attached sandbox runs in the prepared network namespace runsc is started in (see
      // runscGlobalArgs), so the spec asks for no new one.
      namespaces: ['pid', 'network', 'ipc', 'uts', 'mount']
        .filter((type) => type !== 'network' || spec.network.kind === 'isolated')
        .map((type) => ({ type })),
      cgroupsPath: host.cgroupsPath,
      // The limits the workload runs under; the driver writes them to the cgroup itself, and runsc
      // joins a pre-created cgroup without changing it.
      resources: {
        memory: { limit: memoryBytes, swap: memoryBytes },
        cpu: { quota: Math.max(1000, Math.round(limits.cpuCores * CPU_PERIOD_US)), period: CPU_PERIOD_US },
        pids: { limit: host.hostPidsMax },
      },
      seccomp,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}

/**
 * `KEY=value` strings, exactly the spec's variables and nothing inherited. (runsc itself adds
 * HOME, from the image's /etc/passwd entry for uid 65534 or `/`, when the spec has none; it adds
 * nothing else.)
 */
function buildEnv(env: Record<string, string>): string[] {
  return Object.entries(env).map(([key, value]) => {
    // A key with '=' or NUL would let one variable smuggle another.
    if (key === '' || key.includes('=') || key.includes('\0') || value.includes('\0')) {
      throw new ControlError('environment', `invalid variable name or value for "${key.replaceAll('\0', '\\0')}"`);
    }
    return `${key}=${value}`;
  });
}

function systemMounts(host: OciHostPaths): OciMount[] {
  const hidden = ['ro', 'nosuid', 'nodev', 'noexec'];
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'nodev', 'noexec'] },
    // runsc always replaces /dev with its own device tmpfs (null, zero, full, random, urandom, tty,
    // and also fuse, net/tun, ptmx and pts); the entries below hide the extra ones.
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'mode=755'] },
    // No pseudo-terminals: a tmpfs here would be turned into devpts by runsc, an empty bind is not.
    { destination: '/dev/pts', type: 'bind', source: host.emptyDir, options: ['bind', ...hidden] },
    // No TUN device: an empty read-only directory over /dev/net.
    { destination: '/dev/net', type: 'tmpfs', source: 'tmpfs', options: [...hidden, 'mode=755', 'size=4k'] },
    // No FUSE device: runsc 20221219 always creates /dev/fuse (its -fuse flag is a no-op) in a
    // devtmpfs the spec can't change, so the name stays; an empty mode-0 root-owned file over it
    // can't be opened by the sandbox user at all.
    { destination: '/dev/fuse', type: 'bind', source: host.emptyFile, options: ['bind', ...hidden] },
    // Size-limited shared memory, kept inside the sandbox kernel's memory (charged to its cgroup).
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${SHM_MB}m`] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: hidden },
    // The only writable place: a host tmpfs of scratchMb made for this sandbox, so the host can see when it is full.
    { destination: '/tmp', type: 'bind', source: host.scratchDir, options: ['bind', 'rw', 'nosuid', 'nodev'] },
  ];
}

/** The generated resolver configuration (full networks): a root-owned bundle file, read-only. */
/** The composed trust bundle (broker CA included), read-only over the image's. */
function trustBundleMount(host: OciHostPaths): OciMount[] {
  if (host.trustBundle === undefined) return [];
  return [{ destination: TRUST_STORE_PATH, type: 'bind', source: host.trustBundle, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] }];
}

function resolvConfMount(host: OciHostPaths): OciMount[] {
  if (host.resolvConf === undefined) return [];
  return [{ destination: '/etc/resolv.conf', type: 'bind', source: host.resolvConf, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] }];
}

/** The in-sandbox agent (and init): a root-owned host directory, read-only, unless the root already holds it. */
function agentMount(spec: SandboxSpec, host: OciHostPaths): OciMount[] {
  if (spec.agentDir === undefined || host.agentInRoot === true) return [];
  return [{ destination: AGENT_MOUNT, type: 'bind', source: spec.agentDir, options: ['bind', 'ro', 'nosuid', 'nodev'] }];
}

/** The secrets tmpfs: read-only, nothing executable or special on it. Fails closed when it is missing. */
function secretsMount(spec: SandboxSpec, host: OciHostPaths): OciMount[] {
  if ((spec.secrets ?? []).length === 0) return [];
  if (host.secretsDir === undefined) throw new ControlError('secrets', 'the sandbox has secrets but no secrets tmpfs was made');
  return [{ destination: SECRETS_MOUNT, type: 'bind', source: host.secretsDir, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] }];
}

function grantedMounts(spec: SandboxSpec, sources: string[]): OciMount[] {
  const seen = new Set<string>();
  const entries = spec.mounts.map((mount, i) => {
    checkSandboxPath('filesystem_access', mount.sandboxPath);
    if (RESERVED_EXACT.includes(mount.sandboxPath) || RESERVED_PREFIXES.some((prefix) => isAtOrUnder(mount.sandboxPath, prefix))) {
      throw new ControlError('filesystem_access', `a grant may not be mounted at ${mount.sandboxPath}`);
    }
    if (seen.has(mount.sandboxPath)) throw new ControlError('filesystem_access', `${mount.sandboxPath} is granted twice`);
    seen.add(mount.sandboxPath);
    const source = sources[i] as string;
    // Read-only unless the grant says writable; never setuid or device files from the host.
    const options = ['bind', mount.writable ? 'rw' : 'ro', 'nosuid', 'nodev'];
    return { destination: mount.sandboxPath, type: 'bind', source, options };
  });
  // Parents before children, so a grant inside another grant (or inside /tmp) lands on top of it.
  return entries.sort((a, b) => a.destination.split('/').length - b.destination.split('/').length);
}
