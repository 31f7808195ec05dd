/**
 * Descriptors the controller inherited (T8, CVE-2024-21626 class). Node's spawn sets up only the
 * descriptors in its stdio list; any other the controller's own parent left open without
 * close-on-exec (a shell's `exec 9<file`, a supervisor's pipe, a socket-activation descriptor)
 * would pass through nsenter, prlimit and bwrap, or runsc, into the sandbox. Node can neither
 * close-on-exec nor close a range of descriptors in a child, so every runtime launch starts with
 * the project's agent binary on the host (`--close-fds-from`), which closes them and execs the
 * runtime: they never reach it, whatever the controller inherited.
 */
import type { Readable } from 'node:stream';
import { ControlError } from '../host/control-error.ts';

/** What the agent's `--close-fds-from` mode prints (and exits 126) when it refuses to launch. */
const REFUSAL = 'airlock-agent: cannot close inherited descriptors: ';
/** Longest a failed launch waits for the rest of the closer's message. */
const STDERR_WAIT_MS = 1_000;

/**
 * The argv that runs `argv` with only descriptors 0 .. `keep`-1 open (those the spawn's stdio
 * list sets up): `agentBinary --close-fds-from keep -- argv…`. `argv[0]` must be an absolute path.
 */
export function withoutInheritedFds(agentBinary: string, keep: number, argv: readonly string[]): string[] {
  const program = argv[0];
  if (program === undefined || !program.startsWith('/')) throw new Error(`the runtime launcher must be an absolute path, not ${program ?? 'nothing'}`);
  if (!Number.isInteger(keep) || keep < 3) throw new Error(`descriptors 0-2 are always kept: ${keep} is no boundary`);
  return [agentBinary, '--close-fds-from', String(keep), '--', ...argv];
}

/** Watches a launch's stderr for the closer's refusal (reads alongside the caller, never instead). */
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
    if (head.length >= 4096 || (head.includes('\n') && !head.startsWith(REFUSAL))) stderr.off('data', onData);
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
      if (!head.startsWith(REFUSAL)) return undefined;
      const reason = head.slice(REFUSAL.length).split('\n')[0] ?? '';
      return new ControlError('inherited descriptors', `cannot close the descriptors the controller inherited before starting the runtime: ${reason}`);
    },
  };
}
