/**
 * The configuration a bench runs on: the tests' isolated one (its own state, cgroup parent, uids
 * and subnet: a live deployment on the host is neither touched nor counted), with the host's own
 * setting wherever the tests' differs only to keep their leftover checks simple.
 */
import { loadConfig, type AirlockConfig } from '../src/config/config.ts';
import { isolatedConfig, type IsolatedConfigOptions } from '../test/security/lib/isolated-config.ts';
import { removeIsolatedState } from '../test/security/lib/runtime.ts';

export function benchConfig(options: IsolatedConfigOptions = {}): AirlockConfig {
  const host = loadConfig();
  return isolatedConfig({ ...options, network: { driftMonitorLingerMs: host.network.driftMonitorLingerMs, ...options.network } });
}

/** Removes everything {@link benchConfig} and the bench's sandboxes made: cgroup parent, run and state directories, reservations. */
export function releaseBenchConfig(config: AirlockConfig): void {
  const problems = removeIsolatedState(config);
  if (problems.length > 0) process.stderr.write(`bench cleanup: ${problems.join('; ')}\n`);
}
