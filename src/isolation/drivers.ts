/**
 * The drivers this build implements, by runtime name. Planned tiers (wasm, kubernetes)
 * answer with a clear "not implemented" instead of silently falling back to a weaker tier.
 */
import type { AirlockConfig } from '../config/config.ts';
import type { IsolationDriver } from './driver.ts';
import { NamespaceDriver } from './namespace/driver.ts';
import { GvisorDriver } from './gvisor/index.ts';
import { MicrovmDriver } from './microvm/index.ts';
import type { ImplementedRuntime } from './runtimes.ts';

export { IMPLEMENTED_RUNTIMES, isImplementedRuntime, RUNTIME_ALIASES, type ImplementedRuntime } from './runtimes.ts';

/** Returns the driver for `runtime`. */
export function createDriver(runtime: ImplementedRuntime, config: AirlockConfig): IsolationDriver {
  switch (runtime) {
    case 'namespace':
      return new NamespaceDriver({ config });
    case 'gvisor':
      return new GvisorDriver({ config });
    case 'microvm':
      return new MicrovmDriver({ config });
  }
}
