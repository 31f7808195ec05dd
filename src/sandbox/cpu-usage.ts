/**
 * `cpu_usage_cores`: the average number of cores the command used over its run, as the field's
 * name promises, never more than its quota or the host could have given it.
 */
import { availableParallelism } from 'node:os';

/**
 * CPU time over wall time, clamped to the CPU limit and the host's cores. The clamp is not
 * cosmetic: CFS charges a quota per 100 ms period, so a command shorter than one period may burst
 * to every core, and a ratio over such a run would report cores the limit never granted.
 */
export function averageCores(cpuNanos: number, runSeconds: number, limitCores: number, hostCores = availableParallelism()): number {
  if (!(runSeconds > 0) || !(cpuNanos > 0)) return 0;
  return Math.min(cpuNanos / 1e9 / runSeconds, limitCores, hostCores);
}
