/** How `airlock run` reports a run's end and picks its exit code, whether it ran here or through a server. */
import type { TerminationReason } from '../sandbox/result.ts';
import { terminalSafe } from './terminal-text.ts';

/** What of an execution result the ending needs (the library's result and the API's answer both have it). */
export interface RunEnding {
  termination_reason: TerminationReason;
  exit_code: number | null;
  error: string | null;
}

/** One line on stderr when the sandbox did not start or was stopped; nothing for a command that completed. */
export function reportEnding(result: RunEnding): void {
  if (result.termination_reason === 'start_failed') {
    process.stderr.write(`airlock: sandbox did not start: ${terminalSafe(result.error ?? '', { keepLayout: true })}\n`);
  } else if (result.termination_reason !== 'completed') {
    process.stderr.write(`airlock: sandbox terminated: ${terminalSafe(result.termination_reason)}\n`);
  }
}

/** The command's own exit code; 1 when the sandbox never started (a refusal too); 137 when it was killed without one. */
export function exitCodeOf(result: RunEnding): number {
  if (result.termination_reason === 'start_failed') return 1;
  return result.exit_code ?? 137;
}
