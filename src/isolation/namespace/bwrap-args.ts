/**
 * Builds the bubblewrap command line for one sandbox. Pure: no I/O, so every flag is unit-tested.
 */
import { AGENT_MOUNT, SECRETS_MOUNT, type SandboxSpec } from '../driver.ts';
import { secretsTmpfsBytes } from '../secret-files.ts';
import { TRUST_STORE_PATH } from '../trust-store.ts';
import { AGENT_BINARY_NAME } from '../../agent/build.ts';
import type { ProcMaskBind } from '../proc-masks.ts';
import { workdirOnScratch } from '../mount-targets.ts';
import { watchWritesArg } from './write-watch.ts';
import type { LaunchControls } from '../inherited-fds.ts';

/** Inside the sandbox everyone is `nobody`: never uid 0, not even in the user namespace. */
export const SANDBOX_UID = 65534;

/** File descriptors the driver passes to bwrap, by position in the spawn stdio array. */
export const FD = { seccomp: 3, info: 4, block: 5, firstMount: 6 } as const;

export interface BwrapPlan {
  spec: SandboxSpec;
  command: string[];
  /** For each granted mount, in order, the child-side fd number of its pinned O_PATH descriptor. */
  mountFds: number[];
  /** Child-side fd from which bwrap reads `spec.resolvConf` (when set). */
  resolvConfFd?: number;
  /** Child-side fd from which bwrap reads `spec.trustBundle` (when set). */
  trustBundleFd?: number;
  /** For each of `spec.secrets`, in order, the child-side fd bwrap copies its value from. */
  secretFds?: readonly number[];
  /** Replacements bound over the /proc paths that show the host (see proc-masks.ts). */
  procMasks: readonly ProcMaskBind[];
  /**
   * When grants need mount points the image lacks: the arguments that build `/` around the image
   * (root-layout.ts), used instead of binding the image at `/`; `/` is made read-only after the grants.
   */
  root?: readonly string[];
  /**
   * Where AppArmor is active: the profile the command starts under, and the host directory of the
   * agent that stacks it (bound at AGENT_MOUNT when the spec doesn't bind one already).
   */
  confinement?: { profile: string; agentDir: string };
  /**
   * Where `spec.denialAuid` is set: the child-side fd of a second copy of the filter, and the host
   * directory of the agent that loads it with SECCOMP_FILTER_FLAG_LOG (see agent --seccomp-log).
   */
  seccompLog?: { fd: number; agentDir: string };
  /**
   * Where `spec.onPathProbe` is set: the child-side fd the agent's --watch-writes supervisor writes
   * its findings to, and the host directory of that agent.
   */
  writeWatch?: { fd: number; agentDir: string };
}

/** Returns the argv after `bwrap` (the driver prefixes the launch steps and bwrap itself). */
export function buildBwrapArgs(plan: BwrapPlan): string[] {
  const { spec, command } = plan;
  const args: string[] = [
    // Every namespace, and not the `-try` variants: a namespace that can't be made aborts the start.
    '--unshare-user',
    '--unshare-pid',
    // The agent is pid 1 itself: bwrap's reaper would otherwise hold the agent's control channel
    // as a dumpable process whose /proc/1/mem sandbox code (same uid) can write.
    ...(spec.agentDir === undefined ? [] : ['--as-pid-1']),
    // An attached sandbox already runs inside its prepared namespace (see buildLauncherArgs).
    ...(spec.network.kind === 'isolated' ? ['--unshare-net'] : []),
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup',
    '--uid', String(SANDBOX_UID),
    '--gid', String(SANDBOX_UID),
    '--hostname', 'sandbox',
    // If the controller dies, its sandboxes die with it: nothing outlives supervision.
    '--die-with-parent',
    // New session: the sandbox can't TIOCSTI into the caller's terminal (CVE-2017-5226).
    '--new-session',
    // Empty capability sets inside the user namespace.
    '--cap-drop', 'ALL',
    // Read-only root from the verified image; nothing of the host's / is visible.
    ...(plan.root ?? ['--ro-bind', spec.image.rootfs, '/']),
    '--proc', '/proc',
    // This /proc is the host kernel's: what shows the host (cmdline, boot_id, load, disks) is replaced.
    ...plan.procMasks.flatMap((mask) => ['--ro-bind', mask.source, mask.path]),
    // Fresh /dev with only null, zero, full, random, urandom, tty (+ its own devpts and shm).
    '--dev', '/dev',
    // Size-limited shm; then /dev itself is read-only so it can't be used as unbounded scratch.
    '--size', String(16 * 1024 * 1024),
    '--perms', '1777',
    '--tmpfs', '/dev/shm',
    '--remount-ro', '/dev',
    // /run is runtime-owned and read-only: it carries the agent and the secrets tmpfs, nothing else.
    '--size', String(1024 * 1024),
    '--tmpfs', '/run',
    ...agentBind(plan),
    ...secretArgs(plan),
    '--remount-ro', '/run',
    // The only writable place: a size-limited tmpfs owned by the sandbox user.
    '--size', String(spec.limits.scratchMb * 1024 * 1024),
    '--perms', '1777',
    '--tmpfs', '/tmp',
    // A working directory below /tmp is made on the scratch, owned by the sandbox user (as on gvisor).
    ...(workdirOnScratch(spec) ? ['--dir', spec.workdir] : []),
  ];
  spec.mounts.forEach((mount, i) => {
    const fd = plan.mountFds[i];
    if (fd === undefined) throw new Error(`no pinned fd for mount ${mount.sandboxPath}`);
    // Bind the pinned descriptor, not the path: a symlink swapped in after the check is never followed.
    args.push(mount.writable ? '--bind-fd' : '--ro-bind-fd', String(fd), mount.sandboxPath);
  });
  if (spec.resolvConf !== undefined) {
    if (plan.resolvConfFd === undefined) throw new Error('no fd for the resolver configuration');
    // A read-only copy made by bwrap from a pipe: no host file is ever bound here.
    args.push('--perms', '0444', '--ro-bind-data', String(plan.resolvConfFd), '/etc/resolv.conf');
  }
  if (spec.trustBundle !== undefined) {
    if (plan.trustBundleFd === undefined) throw new Error('no fd for the trust bundle');
    // Like resolv.conf: a read-only copy bwrap makes from a pipe, over the image's bundle.
    args.push('--perms', '0444', '--ro-bind-data', String(plan.trustBundleFd), TRUST_STORE_PATH);
  }
  // Why: a root built around the image is bubblewrap's tmpfs; once the mount points exist it is as read-only as the image.
  if (plan.root !== undefined) args.push('--remount-ro', '/');
  args.push('--clearenv');
  for (const [key, value] of Object.entries(spec.env)) args.push('--setenv', key, value);
  args.push(
    '--chdir', spec.workdir,
    '--seccomp', String(FD.seccomp),
    // Child pid arrives on info-fd; the command waits on block-fd until it is inside its cgroup.
    '--info-fd', String(FD.info),
    '--block-fd', String(FD.block),
    '--',
    ...confined(plan, command),
  );
  return args;
}

/** The agent directory bound at AGENT_MOUNT: the spec's (persistent sandboxes), else the confining one's. */
function agentBind(plan: BwrapPlan): string[] {
  const dir = plan.spec.agentDir ?? plan.confinement?.agentDir ?? plan.seccompLog?.agentDir ?? plan.writeWatch?.agentDir;
  return dir === undefined ? [] : ['--ro-bind', dir, AGENT_MOUNT];
}

/**
 * The command as bwrap runs it: where AppArmor is active, through the agent's `--apparmor-stack`,
 * so that it (and all it starts) runs under the profile. Why not bwrap itself: it needs mounts and
 * a user namespace to build the sandbox, which the profile refuses.
 */
function confined(plan: BwrapPlan, command: readonly string[]): string[] {
  const logged = seccompLogged(plan, command);
  if (plan.confinement === undefined) return logged;
  return [`${AGENT_MOUNT}/${AGENT_BINARY_NAME}`, '--apparmor-stack', plan.confinement.profile, '--', ...logged];
}

/**
 * The command under a second, logging copy of the filter. Why inside the sandbox: bwrap loads its
 * filter without SECCOMP_FILTER_FLAG_LOG, and the flag can only be set by whoever loads a filter.
 */
function seccompLogged(plan: BwrapPlan, command0: readonly string[]): string[] {
  const command = writesWatched(plan, command0);
  if (plan.spec.denialAuid === undefined) return [...command];
  if (plan.seccompLog === undefined) throw new Error('no fd for the logging copy of the seccomp filter');
  return [`${AGENT_MOUNT}/${AGENT_BINARY_NAME}`, '--seccomp-log', String(plan.seccompLog.fd), '--', ...command];
}

/**
 * The command under the agent's --watch-writes supervisor (innermost: its filter is the newest).
 * Why a supervisor: writes the mounts refuse (/proc/sys, /sys, /dev, /boot) and runtime-socket
 * probes involve no seccomp denial; seccomp user notification shows their paths, and the
 * supervisor lets the kernel decide every one (detection only).
 */
function writesWatched(plan: BwrapPlan, command: readonly string[]): readonly string[] {
  if (plan.spec.onPathProbe === undefined) return command;
  if (plan.writeWatch === undefined) throw new Error('no fd for the write watcher');
  return [`${AGENT_MOUNT}/${AGENT_BINARY_NAME}`, '--watch-writes', watchWritesArg(plan.writeWatch.fd, plan.spec.agentDir !== undefined), '--', ...command];
}

/**
 * Secrets: a tmpfs of their own at SECRETS_MOUNT, just big enough, each value copied by bwrap from
 * a pipe into a 0400 file there (owned by the sandbox user, who creates it), then made read-only.
 * Why this way: the value is never in an argv, an environment or a host file, and the tmpfs lives
 * in the sandbox's mount namespace only, so it is gone with the sandbox.
 */
function secretArgs(plan: BwrapPlan): string[] {
  const secrets = plan.spec.secrets ?? [];
  if (secrets.length === 0) return [];
  const args = ['--size', String(secretsTmpfsBytes(secrets)), '--perms', '0500', '--tmpfs', SECRETS_MOUNT];
  secrets.forEach((secret, i) => {
    const fd = plan.secretFds?.[i];
    if (fd === undefined) throw new Error(`no fd for secret ${secret.name}`);
    args.push('--perms', '0400', '--file', String(fd), `${SECRETS_MOUNT}/${secret.name}`);
  });
  args.push('--remount-ro', SECRETS_MOUNT);
  return args;
}

/**
 * How bwrap is launched: directly as the sandbox's host uid, or, for an attached network, through
 * `nsenter`, which (as root) enters the prepared network namespace and then drops to that uid
 * (groups cleared) before exec'ing bwrap. Returns [program, args-before-bwrap].
 */
export function buildLauncherArgs(spec: SandboxSpec, hostUid: number, nsenterPath: string): { asRoot: boolean; prefix: string[]; program?: string } {
  if (spec.network.kind === 'isolated') return { asRoot: false, prefix: [] };
  return {
    asRoot: true,
    program: nsenterPath,
    prefix: [`--net=${spec.network.netnsPath}`, '-S', String(hostUid), '-G', String(hostUid), '--'],
  };
}

/** Resource limits that bwrap doesn't set, applied by the launch's first step before it execs bwrap. */
export function launchLimits(spec: SandboxSpec): LaunchControls {
  // No core dumps: a crash must not hand memory to the host's core_pattern helper.
  return { openFiles: spec.limits.openFiles, noCore: true };
}
