/**
 * The runtimes this build implements, by name, apart from their drivers: checking a name (the
 * CLI's options, the API's schemas) loads no driver code.
 */
import type { RuntimeName } from './driver.ts';

/** Runtimes with a working driver in this build. */
export const IMPLEMENTED_RUNTIMES = ['namespace', 'gvisor', 'microvm'] as const satisfies readonly RuntimeName[];
export type ImplementedRuntime = (typeof IMPLEMENTED_RUNTIMES)[number];

/** Other names the API accepts for a runtime: the seed controller's `firecracker` is the microvm tier. */
export const RUNTIME_ALIASES: Readonly<Record<string, ImplementedRuntime>> = Object.freeze({ firecracker: 'microvm' });

/** Type guard for user input. */
export function isImplementedRuntime(name: string): name is ImplementedRuntime {
  return (IMPLEMENTED_RUNTIMES as readonly string[]).includes(name);
}
