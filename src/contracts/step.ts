/**
 * The contract step of admission: a new sandbox (create, execute) or a network change is refused,
 * naming the clause, when it goes beyond its owner's contract. Policy decided before; a contract
 * only narrows what it allows.
 */
import type { AdmissionInput, ContractCheck } from '../admission/admission.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import type { ContractStore } from '../store/contracts.ts';
import type { Contract } from './schema.ts';

/** The services a request asks for (`network.services` of a create or execute). */
function servicesOf(input: AdmissionInput): string[] {
  const network = (input.parameters as { network?: { services?: unknown } } | null)?.network;
  return Array.isArray(network?.services) ? network.services.filter((s): s is string => typeof s === 'string') : [];
}

/** The contract of `agentId`, or undefined; a stored one that no longer parses fails closed. */
export async function contractOf(store: Pick<ContractStore, 'get'>, agentId: string): Promise<Contract | undefined> {
  const stored = await store.get(agentId);
  if (stored === undefined) return undefined;
  // Loaded only for an agent that has a contract: the schema pulls in zod, the public-suffix list and the allowlist rules.
  const { parseContract } = await import('./schema.ts');
  return parseContract(stored.contract);
}

/** The admission step over the store's contracts. */
export function contractStep(store: Pick<ContractStore, 'get'>): ContractCheck {
  return async (input) => {
    if (input.action !== 'create' && input.action !== 'execute' && input.action !== 'network.change') return;
    const spec = input.request ?? input.sandbox?.spec;
    const owner = input.sandbox?.owner ?? input.caller.agentId;
    if (spec === undefined) return;
    let contract: Contract | undefined;
    try {
      contract = await contractOf(store, owner);
    } catch (err) {
      // Why refuse: a contract that can't be read can't be shown to hold.
      throw new AdmissionRefusal('contract', 'contract_violation', `the contract of agent ${owner} cannot be read: ${(err as Error).message}`);
    }
    if (contract === undefined) return;
    const { contractBreach } = await import('./check.ts');
    const breach = contractBreach(contract, spec, servicesOf(input));
    if (breach !== undefined) throw new AdmissionRefusal('contract', 'contract_violation', `beyond the contract of agent ${owner}: clause ${breach.clause}: ${breach.reason}`);
  };
}
