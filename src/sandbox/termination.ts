/**
 * Why a sandbox ended: one rule for every driver, from the runner's own stop (if it stopped the
 * sandbox), the kernel's counters and the main process's exit.
 */
import type { ProcessExit, ResourceSample } from '../isolation/driver.ts';
import type { TerminationReason } from './result.ts';

/** A limit hit that must end the sandbox at once (fail closed, reported by name); undefined when none. */
export function limitReason(sample: ResourceSample): 'memory_limit' | 'pids_limit' | undefined {
  if (sample.oomKills > 0) return 'memory_limit';
  if (sample.pidsLimitHits > 0) return 'pids_limit';
  return undefined;
}

/**
 * The reported reason. A limit the kernel counted outranks the timeout: a fork bomb whose children
 * sleep on after the refusal keeps the sandbox alive until the timer fires, and it still ended at
 * its pids limit (the poll that would have stopped it first may simply have come too late). Every
 * other stop by the runner (output cap, network drift) is reported as such.
 */
export function terminationReason(stopReason: TerminationReason | undefined, sample: ResourceSample, exit: ProcessExit): TerminationReason {
  const limit = limitReason(sample);
  if (stopReason === 'timeout') return limit ?? 'timeout';
  if (stopReason !== undefined) return stopReason;
  if (limit !== undefined) return limit;
  const failed = exit.code !== 0;
  if (failed && sample.scratchFull) return 'scratch_limit';
  if (failed && sample.openFilesLimitHit === true) return 'open_files_limit';
  if (exit.signal !== null) return 'killed';
  return 'completed';
}
