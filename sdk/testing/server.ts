/**
 * A real airlock server for the SDK and CLI tests: the Fastify app in front of the real
 * `SandboxService`, listening on 127.0.0.1 on a free port. Its configuration is the shared isolated
 * test configuration (own state dir, cgroup parent, run directory, host uid range and network
 * space), so it can't touch a live deployment's sandboxes, nor another test file's.
 */
import { buildApp } from '../../src/api/app.ts';
import { loadConfig, type AirlockConfig, type PoolConfig } from '../../src/config/config.ts';
import { resolveImage } from '../../src/images/store.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { isolatedConfig as sharedIsolatedConfig, removeIsolatedState } from '../../test/security/lib/runtime.ts';
import { createLoopbackAccess } from '../../src/admission/loopback-access.ts';

/** A running test server. */
export interface RealServer {
  /** Base URL, e.g. `http://127.0.0.1:41329`. */
  url: string;
  config: AirlockConfig;
  service: SandboxService;
  /** Stops the server, ends every sandbox, removes the private run directory and cgroups. */
  close(): Promise<void>;
}

/** Options of {@link startRealServer}. */
export interface RealServerOptions {
  /** Cap on concurrent sandboxes (default: the host's). */
  maxSandboxes?: number;
  /** Warm pools (default none, so tests don't pay for them). */
  pools?: PoolConfig[];
  /** Network namespaces kept ready (default: the host's); 0 for tests that count what the host has while the server runs. */
  networkPoolSize?: number;
}

/** Why real-server tests can't run here, or false when they can. */
export async function realServerSkipReason(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (the sandbox service creates cgroups and namespaces)';
  const config = loadConfig();
  try {
    await resolveImage(config, config.defaultImage);
  } catch (err) {
    return `no usable image "${config.defaultImage}" (airlock image build ${config.defaultImage}): ${(err as Error).message}`;
  }
  return false;
}

/** The shared isolated test configuration (test/security/lib/isolated-config.ts), with these service settings. */
export function isolatedConfig(options: RealServerOptions = {}): AirlockConfig {
  const base = loadConfig();
  return sharedIsolatedConfig({
    service: { maxSandboxes: options.maxSandboxes ?? base.service.maxSandboxes, pools: options.pools ?? [] },
    ...(options.networkPoolSize === undefined ? {} : { network: { poolSize: options.networkPoolSize } }),
  });
}

/** Starts the service and the app on 127.0.0.1:0. */
export async function startRealServer(options: RealServerOptions = {}): Promise<RealServer> {
  const config = isolatedConfig(options);
  const access = await createLoopbackAccess({ config });
  const service = new SandboxService({ config, policyBundleHash: access.engine.hash });
  await service.start();
  const app = buildApp({ service, access, closeService: true, limits: { defaults: config.defaults, maxima: config.maxima } });
  let url: string;
  try {
    url = await app.listen({ host: '127.0.0.1', port: 0 });
  } catch (err) {
    await service.shutdown();
    throw err;
  }
  return {
    url,
    config,
    service,
    close: async () => {
      await app.close();
      const problems = removeIsolatedState(config);
      if (problems.length > 0) process.stderr.write(`real server cleanup: ${problems.join('; ')}\n`);
    },
  };
}
