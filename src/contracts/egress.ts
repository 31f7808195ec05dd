/**
 * The contract at run time: every egress decision of a sandbox (the proxy reports each attempt,
 * allowed or not) is checked against its owner's contract. An attempt to reach a host outside the
 * `hosts` clause is a POLICY violation on that sandbox; with `enforce: kill` the sandbox is killed.
 */
import { randomUUID } from 'node:crypto';
import { findAllowRule } from '../network/proxy/allowlist.ts';
import type { EgressDecision } from '../network/proxy/index.ts';
import type { SecurityViolation } from '../sandbox/result.ts';
import type { ContractStore } from '../store/contracts.ts';
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
    // Services are named, not hosts: the admission step holds them to the `services` clause.
    if (decision.kind === 'service') return undefined;
    const contract = await contractOf(store, owner);
    const rules = contract === undefined ? undefined : contractRules(contract);
    if (contract === undefined || rules === undefined) return undefined;
    if (findAllowRule(rules, decision.host, decision.port) !== undefined) return undefined;
    const kill = contract.enforce === 'kill';
    return {
      kill,
      violation: {
        violation_id: randomUUID(),
        timestamp: new Date().toISOString(),
        violation_type: 'contract_egress',
        // Why HIGH: an agent reaching for a host its contract never names is behaving unlike itself; it counts toward automatic revocation.
        severity: 'HIGH',
        description: `egress to ${decision.host}:${decision.port} is outside the contract of agent ${owner} (clause hosts)`,
        detection_layer: 'POLICY',
        blocked: !decision.allowed || kill,
        indicators: { sandbox_id: decision.sandboxId, agent_id: owner, host: decision.host, port: decision.port, clause: 'hosts', proxy_allowed: decision.allowed, enforce: contract.enforce },
        remediation: kill ? 'The sandbox was killed (enforce: kill). Widen the contract if the host is expected.' : 'Widen the contract if the host is expected, or set enforce: kill.',
      },
    };
  };
}
