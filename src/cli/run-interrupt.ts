/**
 * `airlock run` ended by SIGTERM, SIGINT or SIGHUP, or by a reader of its output that went away
 * (`airlock run … | head -1`, taken as SIGPIPE): the run is cancelled through the same abort path a
 * timeout takes, its sandbox torn down, and only then does the CLI exit with 128+signal.
 */
import { constants } from 'node:os';

/** The signals that end a run (cleanly) instead of ending the process where it stands. */
const ENDING_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;
/** What ends a run: one of the signals, or SIGPIPE for output nobody reads any more. */
type Ending = (typeof ENDING_SIGNALS)[number] | 'SIGPIPE';

/** A run's interruption: the abort signal to hand the run, the exit code once one arrived. */
export interface RunInterrupt {
  /** Aborted by the first of the ending signals. */
  readonly signal: AbortSignal;
  /** 128 + the number of the first signal received; undefined while none was. */
  exitCode(): number | undefined;
  /** Stops listening (the process's default handling comes back). */
  dispose(): void;
}

/**
 * Listens for the ending signals until disposed. Every signal is caught, not just the first:
 * Why: a second Ctrl-C or a supervisor's repeated SIGTERM must not kill the CLI half-way through
 * the teardown (mounts, cgroups, uid leases and network slots would be left on the host).
 */
export function interruptOnSignals(): RunInterrupt {
  const controller = new AbortController();
  let received: Ending | undefined;
  const end = (name: Ending): void => {
    if (received !== undefined) return;
    received = name;
    controller.abort();
    if (name !== 'SIGHUP' && name !== 'SIGPIPE') process.stderr.write(`airlock: ${name}: stopping the sandbox\n`);
  };
  const onSignal = (name: (typeof ENDING_SIGNALS)[number]): void => end(name);
  // Why: a write to a pipe or terminal that is gone fails with EPIPE/EIO; unhandled, that error would end the CLI with the sandbox still up.
  // Kept after dispose: a late write error must not crash the process either.
  const onOutputError = (): void => end('SIGPIPE');
  for (const stream of [process.stdout, process.stderr]) stream.on('error', onOutputError);
  for (const name of ENDING_SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    exitCode: () => (received === undefined ? undefined : 128 + constants.signals[received]),
    dispose: () => {
      for (const name of ENDING_SIGNALS) process.off(name, onSignal);
    },
  };
}
