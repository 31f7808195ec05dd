/**
 * The contract at run time: every egress decision of a sandbox (the proxy reports each attempt,
 * allowed or not) is checked against its owner's contract. An attempt to reach a host outside the
 * `hosts` clause, or an internal service (`NAME.airlock.internal`) outside the `services` clause,
 * is a POLICY violation on that sandbox; with `enforce: kill` the sandbox is killed.
 */
import { randomUUID } from 'node:crypto';
import { findAllowRule } from '../network/proxy/allowlist.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import { HOST_SERVICE_NAME, INTERNAL_SERVICE_DOMAIN } from '../network/proxy/service-domain.ts';
import type { SecurityViolation } from '../sandbox/result.ts';
import type { ContractStore } from '../store/contracts.ts';
import type { Contract } from './schema.ts';
import { contractRules } from './check.ts';
import { contractOf } from './step.ts';

/** What the service does about one decision: record the violation, and kill the sandbox or not. */
export interface EgressOutcome {
  readonly violation: SecurityViolation;
  readonly kill: boolean;
}

/** The service's egress guard over the store's contracts. */
export function contractEgressGuard(store: Pick<ContractStore, 'get'>): (owner: string, decision: EgressDecision) => Promise<EgressOutcome | undefined> {
  return async (owner, decision) => {
    const contract = await contractOf(store, owner);
    if (contract === undefined) return undefined;
    const service = serviceNameOf(decision.host);
    // Why by name even when refused: a sandbox naming a service it was never given is probing for it.
    if (service !== undefined && contract.services !== undefined) {
      return contract.services.includes(service) ? undefined : breach(contract, owner, decision, 'services', `service ${service}`);
    }
    // A service reached by its URL's address was one of the sandbox's own (the proxy knows no other): admission held those to `services`.
    if (decision.kind === 'service') return undefined;
    const rules = contractRules(contract);
    if (rules === undefined) return undefined;
    if (findAllowRule(rules, decision.host, decision.port) !== undefined) return undefined;
    return breach(contract, owner, decision, 'hosts', `egress to ${decision.host}:${decision.port}`);
  };
}

/** The internal service a host names (`NAME.airlock.internal`, the host's own name excepted), if any. */
function serviceNameOf(host: string): string | undefined {
  const suffix = `.${INTERNAL_SERVICE_DOMAIN}`;
  if (host === HOST_SERVICE_NAME || !host.endsWith(suffix)) return undefined;
  const name = host.slice(0, -suffix.length);
  return name.length > 0 && !name.includes('.') ? name : undefined;
}

function breach(contract: Contract, owner: string, decision: EgressDecision, clause: 'hosts' | 'services', what: string): EgressOutcome {
  const kill = contract.enforce === 'kill';
  const widen = clause === 'hosts' ? 'the host' : 'the service';
  return {
    kill,
    violation: {
      violation_id: randomUUID(),
      timestamp: new Date().toISOString(),
      violation_type: 'contract_egress',
      // Why HIGH: an agent reaching for what its contract never names is behaving unlike itself; it counts toward automatic revocation.
      severity: 'HIGH',
      description: `${what} is outside the contract of agent ${owner} (clause ${clause})`,
      detection_layer: 'POLICY',
      blocked: !decision.allowed || kill,
      indicators: { sandbox_id: decision.sandboxId, agent_id: owner, host: decision.host, port: decision.port, clause, proxy_allowed: decision.allowed, enforce: contract.enforce },
      remediation: kill ? `The sandbox was killed (enforce: kill). Widen the contract if ${widen} is expected.` : `Widen the contract if ${widen} is expected, or set enforce: kill.`,
    },
  };
}
