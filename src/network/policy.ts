/**
 * What a request may ask of the network, checked before anything is allocated: bad input is a clear
 * error naming each problem and changes nothing.
 */
import type { NetworkConfig } from '../config/config.ts';
import type { AllowRule, BrokeredCredential, ResponseRedactor } from './proxy/index.ts';

export const NETWORK_MODES = ['none', 'restricted', 'full'] as const;
export type NetworkMode = (typeof NETWORK_MODES)[number];

export interface NetworkRequest {
  mode: NetworkMode;
  /** Allowlist entries (restricted mode): `host`, `host:port`, `*.example.com[:port]`, IP literals. */
  allowedHosts: string[];
  /** Names of configured internal services the sandbox may call (restricted mode). */
  services: string[];
  /** Secrets its egress proxy swaps in for their placeholders (restricted mode); set by the controller, never by a request. */
  brokered?: BrokeredCredential[];
  /** Redacts their real values from what upstreams answer (set with `brokered`). */
  responseRedactor?: ResponseRedactor;
}

export const NO_NETWORK: NetworkRequest = Object.freeze({ mode: 'none', allowedHosts: [], services: [] }) as NetworkRequest;

/** A network request that can't be honoured; `problems` name every bad part. */
export class NetworkPolicyError extends Error {
  readonly problems: { entry: string; reason: string }[];
  constructor(problems: { entry: string; reason: string }[]) {
    super(`network policy refused: ${problems.map((p) => `${p.entry}: ${p.reason}`).join('; ')}`);
    this.name = 'NetworkPolicyError';
    this.problems = problems;
  }
}

/**
 * Validates a request against the configuration; returns the parsed allowlist. The allowlist parser
 * (public-suffix list included) loads only when there is an allowlist to parse.
 */
export async function checkNetworkRequest(request: NetworkRequest, config: NetworkConfig): Promise<AllowRule[]> {
  const problems: { entry: string; reason: string }[] = [];
  if (request.mode !== 'restricted') {
    // Only the proxy enforces allowlists: listing hosts for another mode would be silently ignored.
    if (request.allowedHosts.length > 0) problems.push({ entry: 'allowed_hosts', reason: `only applies to network_policy restricted, not ${request.mode}` });
    if (request.services.length > 0) problems.push({ entry: 'services', reason: `only reachable with network_policy restricted, not ${request.mode}` });
  }
  if (request.allowedHosts.length > config.maxAllowedHosts) {
    problems.push({ entry: 'allowed_hosts', reason: `at most ${config.maxAllowedHosts} entries` });
  }
  for (const name of request.services) {
    if (config.services[name] === undefined) problems.push({ entry: name, reason: 'no such internal service is configured' });
  }
  let rules: AllowRule[] = [];
  if (request.allowedHosts.length > 0) {
    const { AllowlistError, parseAllowlist } = await import('./proxy/index.ts');
    try {
      rules = parseAllowlist(request.allowedHosts);
    } catch (err) {
      if (!(err instanceof AllowlistError)) throw err;
      problems.push(...err.problems);
    }
  }
  if (problems.length > 0) throw new NetworkPolicyError(problems);
  return rules;
}
