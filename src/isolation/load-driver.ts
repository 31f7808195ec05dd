/**
 * One runtime's driver, loading only that runtime's code: a one-shot `airlock run` on the
 * namespace tier never loads gVisor's, and the reverse. The server, which offers every runtime,
 * uses createDriver (drivers.ts).
 */
import type { AirlockConfig } from '../config/config.ts';
import type { IsolationDriver } from './driver.ts';
import type { ImplementedRuntime } from './runtimes.ts';

/** Returns the driver for `runtime`, importing its module on first use. */
export async function loadDriver(runtime: ImplementedRuntime, config: AirlockConfig): Promise<IsolationDriver> {
  switch (runtime) {
    case 'namespace':
      return new (await import('./namespace/driver.ts')).NamespaceDriver({ config });
    case 'gvisor':
      return new (await import('./gvisor/index.ts')).GvisorDriver({ config });
    case 'microvm':
      return new (await import('./microvm/index.ts')).MicrovmDriver({ config });
  }
}
