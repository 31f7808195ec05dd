/**
 * How this driver calls runsc: the global flags every invocation carries, and how runsc's exit is
 * read back into the workload's exit code or signal.
 */
import { execFile } from 'node:child_process';
import type { SandboxNetwork } from '../driver.ts';
import { signalName, signalOfExitCode } from '../../host/exit-status.ts';
import type { ProcessExit } from '../driver.ts';
import { TRACED_SYSCALLS } from './refused-forks.ts';

/** Environment of every runsc invocation: nothing of the controller's environment leaks in. */
export const RUNSC_ENV: Readonly<Record<string, string>> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

/** Flags runsc must know; without any of them the sandbox would boot weaker than specified. */
export const REQUIRED_FLAGS = ['root', 'network', 'oci-seccomp', 'file-access', 'host-uds', 'debug-log', 'debug-command', 'strace', 'strace-syscalls'] as const;

/** What `runsc flags` said this binary supports, by flag name. */
export type RunscFlags = ReadonlySet<string>;

/** Parses `runsc flags` output (`  -name type` lines) into the set of flag names. */
export function parseRunscFlags(text: string): RunscFlags {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s+--?([A-Za-z0-9][A-Za-z0-9_-]*)/.exec(line);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return names;
}

/** Where runsc keeps state and writes its logs for one invocation. */
export interface RunscPaths {
  /** Per-driver `--root` state directory (0700). */
  stateDir: string;
  /**
   * Root-only directory for the logs of `run` (`run.log`, read for the exact wait status and
   * fatal errors) and of the sandbox kernel (`boot.log`, the FIFO of its clone trace).
   */
  logDir?: string;
  /**
   * Log at debug level: the only level at which the sandbox kernel reports the calls its seccomp
   * filter refused (src/isolation/gvisor/seccomp-denials.ts). Only with `logDir`.
   */
  seccompDenials?: boolean;
}

/** Global flags for every runsc command of this driver. */
export function runscGlobalArgs(flags: RunscFlags, paths: RunscPaths, network: SandboxNetwork = { kind: 'isolated' }): string[] {
  const args = [
    `--root=${paths.stateDir}`,
    // Isolated: own network stack with loopback only. Attached: runsc is started inside the
    // prepared namespace (veth + host-side rules) and passes sockets through to it. The netstack
    // mode (`sandbox`) would be preferable, but runsc 20221219 refuses it on kernels where
    // net.core.rmem_default is per-namespace ("cannot run with network enabled in root network
    // namespace"); the namespace and its host-side rules are the boundary either way.
    network.kind === 'isolated' ? '--network=none' : '--network=host',
    // Load linux.seccomp from the spec inside the sandbox kernel; without this flag runsc ignores it.
    '--oci-seccomp',
    // The image root is immutable, so the sandbox kernel may cache it; granted mounts may change on the host.
    '--file-access=exclusive',
    '--file-access-mounts=shared',
    // Never connect to or open host unix sockets or FIFOs (T14), whatever a granted mount contains.
    '--host-uds=none',
  ];
  if (flags.has('host-fifo')) args.push('--host-fifo=none');
  // No raw sockets: they would let the sandbox craft packets even on loopback.
  if (flags.has('net-raw')) args.push('--net-raw=false');
  // The root stays read-only: no in-memory overlay that would make it writable and unbounded.
  if (flags.has('overlay2')) args.push('--overlay2=none');
  // Where supported, keep the gofer as the only process opening host files (the sandbox kernel gets no host fds).
  if (flags.has('directfs')) args.push('--directfs=false');
  // Never let spec annotations change these flags.
  if (flags.has('allow-flag-override')) args.push('--allow-flag-override=false');
  // The sandbox sees as many CPUs as its quota allows (cosmetic: the cgroup quota is the limit).
  if (flags.has('cpu-num-from-quota')) args.push('--cpu-num-from-quota');
  if (paths.logDir !== undefined) {
    // Logs of the `run` command and the sandbox kernel only (not of the gofer), at runsc's default
    // (info) level: the first records the workload's raw wait status, the second carries the trace
    // of the clone family, whose EAGAIN exits are the forks refused at the guest task limit
    // (nothing else reports them). Both live in the root-only bundle directory. No `--debug`: it
    // adds nothing either needs and costs ~100 ms per sandbox (docs/benchmarks.md).
    args.push(`--debug-log=${paths.logDir}/%COMMAND%.log`, '--debug-command=run,boot');
    args.push('--strace', `--strace-syscalls=${TRACED_SYSCALLS.join(',')}`);
    // Why only when asked: debug level costs start-up time and log volume (docs/benchmarks.md).
    if (paths.seccompDenials === true) args.push('--debug');
  }
  return args;
}

/** Runs runsc to completion; rejects with its stderr on a non-zero exit, after `timeoutMs`, or once `signal` aborts (runsc is SIGKILLed). */
export function execRunsc(runsc: string, args: string[], timeoutMs: number, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const options = { env: RUNSC_ENV, timeout: timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 1024 * 1024, ...(signal === undefined ? {} : { signal }) };
    execFile(runsc, args, options, (err, stdout, stderr) => {
      if (err !== null) {
        const detail = String(stderr).trim() || err.message;
        reject(new Error(`runsc ${args.filter((a) => !a.startsWith('--')).join(' ')}: ${detail}`, { cause: err }));
        return;
      }
      resolve(String(stdout));
    });
  });
}

/**
 * runsc's state file for the root container `id` of a sandbox in `stateDir` (what `runsc state`
 * reads): `<id>_sandbox:<id>.state`, JSON with a `status` runsc updates as it goes.
 */
export function stateFile(stateDir: string, id: string): string {
  return `${stateDir}/${id}_sandbox:${id}.state`;
}

/**
 * Whether a state file's text says the workload was started (running now, or already stopped or
 * paused). Parsed, not searched: the spec it embeds holds strings of the request. A file caught
 * half-written is not started yet.
 */
export function stateSaysStarted(text: string): boolean {
  try {
    const status = (JSON.parse(text) as { status?: unknown }).status;
    return status === 'running' || status === 'stopped' || status === 'paused';
  } catch {
    return false;
  }
}

/** Extracts runsc's last fatal error from its debug log, if any. */
export function fatalError(log: string): string | undefined {
  const matches = [...log.matchAll(/FATAL ERROR: (.*)/g)];
  return matches.at(-1)?.[1]?.trim();
}

/** True when runsc failed because the workload's executable could not be loaded (not a control failure). */
export function isExecFailure(message: string): boolean {
  return /failed to load |error finding executable/.test(message);
}

/**
 * Maps how `runsc run` ended to the workload's exit.
 *
 * runsc's own exit code folds signals into 128+N (and uses 128 for its own failures), so the raw
 * wait status from its debug log ("Exiting with status: N") is preferred; the exit code is the fallback.
 */
export function workloadExit(runscCode: number | null, runscSignal: NodeJS.Signals | null, log: string, stopped: boolean): ProcessExit {
  const raw = [...log.matchAll(/Exiting with status: (\d+)/g)].at(-1)?.[1];
  if (raw !== undefined) return fromWaitStatus(Number(raw));
  // runsc itself was killed (by stop()'s fallback or from outside): the workload went with it.
  if (runscSignal !== null) return { code: null, signal: stopped ? 'SIGKILL' : runscSignal };
  if (stopped) return { code: null, signal: 'SIGKILL' };
  const fatal = fatalError(log);
  // Like a shell: 127 when the command could not be executed at all (runsc printed why on stderr).
  if (fatal !== undefined && isExecFailure(fatal)) return { code: 127, signal: null };
  const signal = signalOfExitCode(runscCode);
  if (signal !== null) return { code: null, signal };
  return { code: runscCode ?? 128, signal: null };
}

/** Decodes a Linux wait status (exit code in bits 8-15, terminating signal in bits 0-6). */
export function fromWaitStatus(status: number): ProcessExit {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  const signal = signalName(sig);
  // A signal Node has no name for (real-time signals): report the shell's 128+N instead.
  return signal === null ? { code: 128 + sig, signal: null } : { code: null, signal };
}
