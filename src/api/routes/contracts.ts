/**
 * Behavior contracts over HTTP, operators only (Cedar's `admin` action, like every controller-wide
 * route), in the shape of `airlock contracts set|show|rm|suggest`: a contract is validated by the
 * one schema (each problem named, 400), stored, and its change recorded in the audit log.
 * Without a contract store each answers 503.
 */
import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/log.ts';
import type { AuditRecord } from '../../audit/record.ts';
import type { Contract } from '../../contracts/schema.ts';
import { suggestContract } from '../../contracts/suggest.ts';
import type { ContractStore, StoredContract } from '../../store/contracts.ts';
import { admit, callerOf } from '../admit.ts';
import type { RouteContext } from '../context.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';

/** Audit records read per page for a suggestion. */
const PAGE = 1000;

function wire(stored: StoredContract) {
  return { agent_id: stored.agentId, contract: stored.contract as Contract, updated_at: new Date(stored.updatedAtMs).toISOString(), updated_by: stored.updatedBy };
}

/** Registers the contract routes. */
export function registerContractRoutes(app: FastifyInstance, ctx: RouteContext, contracts: ContractStore | undefined, audit: AuditLog | undefined): void {
  const { contractList, contractShow, contractSet, contractRemove, contractSuggest } = ROUTES;
  const need = (): ContractStore => {
    if (contracts === undefined) throw new ApiError('control_failed', 'this controller keeps no contracts (it has no store)');
    return contracts;
  };

  app.get(contractList.url, async (request) => {
    await admit(ctx, request, { action: 'admin', parameters: { route: 'contracts.list' } });
    return { contracts: (await need().list()).map(wire) };
  });

  app.get(contractShow.url, async (request) => {
    const { agent_id: agentId } = parseOrThrow(contractShow.params, request.params, 'params');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'contracts.show', agent_id: agentId } });
    const stored = await need().get(agentId);
    if (stored === undefined) throw new ApiError('contract_not_found', `agent ${agentId} has no contract`);
    return wire(stored);
  });

  app.put(contractSet.url, async (request) => {
    const { agent_id: agentId } = parseOrThrow(contractSet.params, request.params, 'params');
    // Why the one schema: what the CLI and policies/contract.schema.json accept, nothing more.
    const contract = parseOrThrow(contractSet.body.schema, request.body, 'body');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'contracts.set', agent_id: agentId } });
    const caller = callerOf(request);
    const stored: StoredContract = { agentId, contract, updatedAtMs: Date.now(), updatedBy: caller.name };
    await need().set(stored);
    await audit?.append({ kind: 'contract.set', agentId, data: { contract }, actor: { name: caller.name, role: caller.role, agent_id: caller.agentId } });
    return wire(stored);
  });

  app.delete(contractRemove.url, async (request) => {
    const { agent_id: agentId } = parseOrThrow(contractRemove.params, request.params, 'params');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'contracts.remove', agent_id: agentId } });
    if (!(await need().remove(agentId))) throw new ApiError('contract_not_found', `agent ${agentId} has no contract`);
    const caller = callerOf(request);
    await audit?.append({ kind: 'contract.removed', agentId, data: {}, actor: { name: caller.name, role: caller.role, agent_id: caller.agentId } });
    return { agent_id: agentId, removed: true as const };
  });

  app.get(contractSuggest.url, async (request) => {
    const { agent_id: agentId } = parseOrThrow(contractSuggest.params, request.params, 'params');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'contracts.suggest', agent_id: agentId } });
    if (audit === undefined) throw new ApiError('control_failed', 'this controller keeps no audit log to suggest a contract from');
    const records: AuditRecord[] = [];
    for (let after: number | undefined; ; ) {
      const page = await audit.query({ agentId, afterIndex: after, limit: PAGE });
      records.push(...page.map((r) => r.record));
      if (page.length < PAGE) break;
      after = page[page.length - 1]?.index;
    }
    const { contract, evidence } = suggestContract(records);
    if (evidence.sandboxes + evidence.executions === 0) throw new ApiError('contract_not_found', `agent ${agentId} has no recorded sandboxes to suggest a contract from`);
    return { agent_id: agentId, contract, evidence };
  });
}
