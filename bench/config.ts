/**
 * The configuration a bench runs on: the tests' isolated one (its own state, cgroup parent, uids
 * and subnet: a live deployment on the host is neither touched nor counted), with the host's own
 * setting wherever the tests' differs only to keep their leftover checks simple.
 */
import { loadConfig, type AirlockConfig } from '../src/config/config.ts';
import { isolatedConfig, releaseIsolatedConfig, type IsolatedConfigOptions } from '../test/security/lib/isolated-config.ts';

export function benchConfig(options: IsolatedConfigOptions = {}): AirlockConfig {
  const host = loadConfig();
  return isolatedConfig({ ...options, network: { driftMonitorLingerMs: host.network.driftMonitorLingerMs, ...options.network } });
}

export { releaseIsolatedConfig as releaseBenchConfig };
