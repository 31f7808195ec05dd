/**
 * Descriptors the controller inherited (T8, CVE-2024-21626 class). Node's spawn sets up only the
 * descriptors in its stdio list; any other the controller's own parent left open without
 * close-on-exec (a shell's `exec 9<file`, a supervisor's pipe, a socket-activation descriptor)
 * would pass through nsenter and bwrap, or runsc, into the sandbox. Node can neither
 * close-on-exec nor close a range of descriptors in a child, so every runtime launch starts with
 * the project's agent binary on the host (`--close-fds-from`), which closes them and execs the
 * runtime: they never reach it, whatever the controller inherited. The same step sets the resource
 * limits and the parent-death signal the runtime doesn't (`LaunchControls`), so that no process of
 * its own is needed for them.
 */
import type { Readable } from 'node:stream';
import { ControlError } from '../host/control-error.ts';

/** What the agent's `--close-fds-from` mode prints (and exits 126) when it refuses to launch, and the control each names. */
const REFUSALS: readonly { prefix: string; control: string; says: string }[] = [
  { prefix: 'airlock-agent: cannot close inherited descriptors: ', control: 'inherited descriptors', says: 'cannot close the descriptors the controller inherited before starting the runtime' },
  { prefix: 'airlock-agent: cannot set resource limits: ', control: 'rlimits', says: 'cannot set the resource limits before starting the runtime' },
  { prefix: 'airlock-agent: cannot tie the runtime to its controller: ', control: 'parent death signal', says: 'cannot have the runtime killed when the controller dies' },
];
/** Longest a failed launch waits for the rest of the closer's message. */
const STDERR_WAIT_MS = 1_000;

/** What the launch step sets for the runtime and everything it runs. */
export interface LaunchControls {
  /** RLIMIT_NOFILE. */
  openFiles?: number;
  /** RLIMIT_CORE 0: a crash must not hand the sandbox's memory to the host's core_pattern helper. */
  noCore?: boolean;
  /**
   * The controller's pid: the runtime is SIGKILLed when the controller dies (PR_SET_PDEATHSIG), and
   * never started when it is already gone. For runtimes that don't do it themselves (bwrap does).
   */
  dieWithParent?: number;
}

/**
 * The argv that runs `argv` with only descriptors 0 .. `keep`-1 open (those the spawn's stdio
 * list sets up) and `controls` set: `agentBinary --close-fds-from keep [--nofile N] [--no-core]
 * [--die-with-parent PID] -- argv…`. `argv[0]` must be an absolute path.
 */
export function withoutInheritedFds(agentBinary: string, keep: number, argv: readonly string[], controls: LaunchControls = {}): string[] {
  const program = argv[0];
  if (program === undefined || !program.startsWith('/')) throw new Error(`the runtime launcher must be an absolute path, not ${program ?? 'nothing'}`);
  if (!Number.isInteger(keep) || keep < 3) throw new Error(`descriptors 0-2 are always kept: ${keep} is no boundary`);
  const { openFiles, dieWithParent } = controls;
  if (openFiles !== undefined && (!Number.isSafeInteger(openFiles) || openFiles < 1 || openFiles > 2 ** 31 - 1)) throw new Error(`${openFiles} is no open-file limit`);
  if (dieWithParent !== undefined && (!Number.isSafeInteger(dieWithParent) || dieWithParent < 2 || dieWithParent > 2 ** 31 - 1)) throw new Error(`${dieWithParent} is no controller pid`);
  const options = [
    ...(openFiles === undefined ? [] : ['--nofile', String(openFiles)]),
    ...(controls.noCore === true ? ['--no-core'] : []),
    ...(dieWithParent === undefined ? [] : ['--die-with-parent', String(dieWithParent)]),
  ];
  return [agentBinary, '--close-fds-from', String(keep), ...options, '--', ...argv];
}

/** Watches a launch's stderr for the launch step's refusal (reads alongside the caller, never instead). */
export interface FdCloserWatch {
  /** The refusal as a ControlError naming the control, once the launch ended; undefined if none. */
  failure(): Promise<ControlError | undefined>;
}

/** Starts watching `stderr` (call before anything else may consume it). */
export function watchFdCloser(stderr: Readable): FdCloserWatch {
  let head = '';
  const onData = (chunk: Buffer): void => {
    head += chunk.toString('utf8');
    // The refusal is the first line or nothing: the rest is the runtime's (or the sandbox's) own.
    if (head.length >= 4096 || (head.includes('\n') && refusalOf(head) === undefined)) stderr.off('data', onData);
  };
  stderr.on('data', onData);
  const ended = new Promise<void>((resolve) => {
    stderr.once('end', resolve);
    stderr.once('close', resolve);
    stderr.once('error', () => resolve());
  });
  return {
    async failure() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, STDERR_WAIT_MS)))]);
      clearTimeout(timer);
      const refusal = refusalOf(head);
      if (refusal === undefined) return undefined;
      const reason = head.slice(refusal.prefix.length).split('\n')[0] ?? '';
      return new ControlError(refusal.control, `${refusal.says}: ${reason}`);
    },
  };
}

function refusalOf(head: string): (typeof REFUSALS)[number] | undefined {
  return REFUSALS.find((r) => head.startsWith(r.prefix));
}
