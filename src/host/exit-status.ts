/**
 * Exit-status helpers shared by the drivers: runtimes that stand between the host and the command
 * (bwrap's pid 1, the agent's init, runsc) report a signal death as exit code 128+N, as a shell does.
 */
import { constants } from 'node:os';

/** The signal named by number, or null for one Node has no name for. */
export function signalName(num: number): NodeJS.Signals | null {
  for (const [name, value] of Object.entries(constants.signals)) if (value === num) return name as NodeJS.Signals;
  return null;
}

/** The signal an exit code of 128+N stands for, or null when the code is an ordinary exit. */
export function signalOfExitCode(code: number | null): NodeJS.Signals | null {
  if (code === null || code <= 128 || code > 128 + 64) return null;
  return signalName(code - 128);
}

/** The shell's exit code for a death by `signal`: 128+N (128 for a signal Node can't number). */
export function exitCodeOfSignal(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
