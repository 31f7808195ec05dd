/**
 * A sandbox that sits still (T1 host side, T16): it writes a marker file into its /tmp, takes the
 * marker as its process name, reports, and waits until released (its stdin is closed).
 */
import { PassThrough } from 'node:stream';
import type { AirlockConfig } from '../../../src/config/config.ts';
import type { ExecutionResult } from '../../../src/sandbox/result.ts';
import { parseProbeOutput, type ProbeKit, type ProbeLine } from './probes.ts';
import { runInSandbox } from './runtime.ts';
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
  return {
    marker,
    ready: Promise.race([readyLine, ended]),
    release: () => {
      stdin.end();
      return done;
    },
  };
}
