/** What a restricted sandbox's environment says about its network: the proxy, and service URLs. */
import type { InternalService } from './proxy/index.ts';
import { INTERNAL_SERVICE_DOMAIN } from './proxy/service-domain.ts';

/** The proxy variables every common client honours (curl, Python, Go; Node with NODE_USE_ENV_PROXY). */
export function proxyEnv(proxyUrl: string, services: InternalService[]): Record<string, string> {
  const env: Record<string, string> = {
    HTTP_PROXY: proxyUrl,
    HTTPS_PROXY: proxyUrl,
    http_proxy: proxyUrl,
    https_proxy: proxyUrl,
    // The sandbox's own loopback is its own: local servers inside it stay reachable directly.
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
    NODE_USE_ENV_PROXY: '1',
  };
  for (const s of services) env[`AIRLOCK_SERVICE_${s.name.toUpperCase().replace(/-/g, '_')}_URL`] = `http://${s.name}.${INTERNAL_SERVICE_DOMAIN}`;
  return env;
}
