/**
 * The drivers this build implements, by runtime name. Planned tiers (microvm, wasm, kubernetes)
 * answer with a clear "not implemented" instead of silently falling back to a weaker tier.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { IsolationDriver, RuntimeName } from './driver.ts';
import { NamespaceDriver } from './namespace/driver.ts';
import { GvisorDriver } from './gvisor/index.ts';

/** Runtimes with a working driver in this build. */
export const IMPLEMENTED_RUNTIMES = ['namespace', 'gvisor'] as const satisfies readonly RuntimeName[];
export type ImplementedRuntime = (typeof IMPLEMENTED_RUNTIMES)[number];

/** Returns the driver for `runtime`. */
export function createDriver(runtime: ImplementedRuntime, config: AirlockConfig): IsolationDriver {
  switch (runtime) {
    case 'namespace':
      return new NamespaceDriver({ config });
    case 'gvisor':
      return new GvisorDriver({ config });
  }
}

/** Type guard for user input. */
export function isImplementedRuntime(name: string): name is ImplementedRuntime {
  return (IMPLEMENTED_RUNTIMES as readonly string[]).includes(name);
}
