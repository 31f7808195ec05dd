/**
 * Access control for a controller used by one local program (the SDK's test server, the API
 * tests, benchmarks): the real admission path with the development switch on, so unsigned
 * loopback requests act as one principal. Never what `airlock serve` builds from a configuration
 * that leaves the switch off.
 */
import { DEFAULT_CONFIG, type AirlockConfig } from '../config/config.ts';
import type { PrincipalRole } from '../policy/request.ts';
import type { ControlStore } from '../store/store.ts';
import { createAccess, type Access } from './access.ts';

/** Options of {@link createLoopbackAccess}. */
export interface LoopbackAccessOptions {
  /** Configuration the policy settings come from (default: the built-in one). */
  config?: Pick<AirlockConfig, 'auth' | 'policy' | 'defaultImage' | 'approvals'> | undefined;
  /** Who unsigned loopback requests act as (default the operator `local-operator`). */
  as?: { name: string; role: PrincipalRole; agentId?: string | undefined; groups?: string[] | undefined } | undefined;
  /** Keys, nonces and approvals (default none: signed requests and approvals are refused). */
  store?: ControlStore | undefined;
}

/** The real admission path, with unsigned loopback requests accepted as `as`. */
export async function createLoopbackAccess(options: LoopbackAccessOptions = {}): Promise<Access> {
  const config = options.config ?? DEFAULT_CONFIG;
  const as = options.as ?? { name: 'local-operator', role: 'operator' as const };
  return createAccess({
    config: { ...config, auth: { ...config.auth, unsignedLoopback: true, unsignedLoopbackAs: { name: as.name, role: as.role, agentId: as.agentId, groups: as.groups ?? [] } } },
    store: options.store,
  });
}
