/**
 * A sandbox that sits still (T1 host side, T16): it writes a marker file into its /tmp, takes the
 * marker as its process name, reports, and waits until released (its stdin is closed).
 */
import { PassThrough } from 'node:stream';
import type { AirlockConfig } from '../../../src/config/config.ts';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { parseProbeOutput, type ProbeKit, type ProbeLine } from './probes.ts';
import { HUNG, runInSandbox, withWatchdog } from './runtime.ts';

/** A holder must be in place this soon after it was started. */
const READY_WITHIN_MS = 30_000;
/** A released holder must have ended (and been torn down) this soon. */
const RELEASE_WITHIN_MS = 15_000;
import type { Ready } from './suite.ts';

/** A running holder sandbox. */
export interface Holder {
  marker: string;
  /** The probe's `hold` line, once it is in place; rejects if the sandbox ended first. */
  ready: Promise<ProbeLine>;
  /** Lets the holder finish and returns its result. */
  release(): Promise<ExecutionResult>;
}

/** Starts a holder; it gives up by itself after `seconds`. */
export function startHolder(ready: Ready, config: AirlockConfig, kit: ProbeKit, marker: string, seconds = 60): Holder {
  const stdin = new PassThrough();
  let out = '';
  let onLine: (line: ProbeLine) => void = () => undefined;
  const readyLine = new Promise<ProbeLine>((resolve) => (onLine = resolve));
  const done = runInSandbox(ready, config, [kit.probe, 'hold', marker, String(seconds)], {
    mounts: [kit.mount],
    stdin,
    limits: { timeoutSeconds: seconds + 30 },
    onStdout: (chunk) => {
      out += chunk.toString('utf8');
      const line = parseProbeOutput(out).find((l) => l.check === 'hold');
      if (line !== undefined) onLine(line);
    },
  });
  const ended = done.then((r) => {
    throw new Error(`holder ended before it was ready: ${r.termination_reason} ${r.error ?? ''} ${r.output}`);
  });
  const tooLate = withWatchdog(readyLine, READY_WITHIN_MS).then((r) => {
    if (r === HUNG) throw new Error(`holder sandbox was not running within ${READY_WITHIN_MS / 1000} s: its start hung`);
    return r;
  });
  return {
    marker,
    ready: Promise.race([tooLate, ended]),
    release: async () => {
      stdin.end();
      const result = await withWatchdog(done, RELEASE_WITHIN_MS);
      if (result === HUNG) throw new Error(`holder sandbox did not finish within ${RELEASE_WITHIN_MS / 1000} s of its release`);
      return result;
    },
  };
}
