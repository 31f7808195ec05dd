/**
 * The default cap on concurrent sandboxes (`service.maxSandboxes`), derived from the host instead
 * of one constant for every machine. Two bounds, the smaller wins:
 *
 * - memory: the sandboxes' default memory limits may add up to {@link MEMORY_OVERCOMMIT} times
 *   {@link MEMORY_SHARE} of the host's memory. Each sandbox is held to its own limit by its cgroup
 *   and few sit at it (most agent sandboxes are idle), and warm pools drain when memory runs short;
 *   the rest of the memory is the host's and the controller's.
 * - CPU: {@link SANDBOXES_PER_CORE} per core (the default 0.5-core quota is then overcommitted 16×:
 *   a cap meant for mostly idle sandboxes, not for that many busy ones).
 *
 * An explicit `service.maxSandboxes` in the configuration always wins; `airlock doctor` shows both.
 */
import { availableParallelism, totalmem } from 'node:os';

/** Share of the host's memory the sandboxes' limits are measured against. */
export const MEMORY_SHARE = 0.75;
/** How far the sum of the sandboxes' memory limits may exceed that share. */
export const MEMORY_OVERCOMMIT = 2;
/** Sandboxes per CPU core. */
export const SANDBOXES_PER_CORE = 32;

/** The host facts the cap is derived from. */
export interface HostFacts {
  memoryBytes: number;
  cores: number;
}

/** The derived cap and how it was reached. */
export interface HostCapacity extends HostFacts {
  max: number;
  byMemory: number;
  byCpu: number;
}

/** This host's memory and usable cores (the process's CPU affinity, not the machine's count). */
export function hostFacts(): HostFacts {
  return { memoryBytes: totalmem(), cores: availableParallelism() };
}

/** The cap for sandboxes of `defaultMemoryMb` on `host`: at least 1. */
export function hostSandboxCapacity(defaultMemoryMb: number, host: HostFacts = hostFacts()): HostCapacity {
  const byMemory = Math.floor((host.memoryBytes * MEMORY_SHARE * MEMORY_OVERCOMMIT) / (defaultMemoryMb * 1024 * 1024));
  const byCpu = Math.floor(host.cores * SANDBOXES_PER_CORE);
  return { ...host, max: Math.max(1, Math.min(byMemory, byCpu)), byMemory, byCpu };
}

/** One line for `airlock doctor`: the cap in force and, when it is the derived one, how. */
export function describeCapacity(configured: number, derived: HostCapacity): string {
  const gib = (derived.memoryBytes / 2 ** 30).toFixed(1);
  const how = `memory ${gib} GiB → ${derived.byMemory}, ${derived.cores} cores → ${derived.byCpu}`;
  if (configured === derived.max) return `maxSandboxes ${configured}, derived from this host (${how}; the smaller wins)`;
  return `maxSandboxes ${configured}, set in the configuration (this host's derived default would be ${derived.max}: ${how})`;
}
