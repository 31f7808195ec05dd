/**
 * The CPU quota during and after boot.
 *
 * runsc's own boot (sandbox kernel and gofer start-up, ~150 ms of CPU) runs inside the sandbox's
 * cgroup. Under a 0.5-core quota it is throttled and a cold start takes ~280 ms instead of
 * ~185 ms. So the cgroup is created with at least {@link BOOT_CPU_CORES} and the requested quota is
 * written the moment runsc reports the workload started. Memory and pids limits are never raised,
 * and the boot quota is itself a limit: nothing runs unlimited at any point.
 */
import { writeFileSync } from 'node:fs';
import { ControlError } from '../../host/control-error.ts';
import type { SandboxCgroup } from '../cgroups/index.ts';

/** CPU quota the sandbox gets while runsc boots it (more does not boot faster on this runtime). */
export const BOOT_CPU_CORES = 1;

const CPU_PERIOD_US = 100_000;

/** The quota, in cores, the cgroup is created with. */
export function bootCpuCores(requested: number): number {
  return Math.max(requested, BOOT_CPU_CORES);
}

/** Writes the requested quota (same period and rounding as SandboxCgroup). Throws a ControlError naming `cpu`. */
export function applyCpuQuota(cgroup: SandboxCgroup, cores: number): void {
  const quota = Math.max(1000, Math.round(cores * CPU_PERIOD_US));
  const [path, value] =
    cgroup.layout.version === 2
      ? [`${cgroup.dirs.cpu}/cpu.max`, `${quota} ${CPU_PERIOD_US}`]
      : [`${cgroup.dirs.cpu}/cpu.cfs_quota_us`, String(quota)];
  try {
    writeFileSync(path, value);
  } catch (err) {
    throw new ControlError('cpu', `cannot write ${value} to ${path}: ${(err as Error).message}`, { cause: err });
  }
}
