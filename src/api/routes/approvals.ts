/**
 * Approvals: list and read them (approvers and operators all, an agent its own tenant's), and decide
 * one with an approver's signed decision. Every answer comes from the approval gate; its refusals
 * (ApprovalRefusal) leave through the error handler as their code's status (src/api/error-codes.ts).
 */
import type { FastifyInstance } from 'fastify';
import type { ApprovalGate, PendingApprovalView } from '../../approvals/gate.ts';
import { callerOf } from '../admit.ts';
import { parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';


/** Registers the approval routes on `app`, answered by `gate`. Needs the authentication hook that sets `request.caller`. */
export function registerApprovalRoutes(app: FastifyInstance, gate: ApprovalGate): void {
  const { listApprovals, getApproval, decideApproval } = ROUTES;

  app.get(listApprovals.url, async (request) => {
    const approvals = await gate.list(callerOf(request));
    return { approvals, total_count: approvals.length };
  });

  app.get(getApproval.url, async (request): Promise<PendingApprovalView> => {
    const { id } = parseOrThrow(getApproval.params, request.params, 'params');
    return gate.get(id, callerOf(request));
  });

  app.post(decideApproval.url, async (request): Promise<PendingApprovalView> => {
    const { id } = parseOrThrow(decideApproval.params, request.params, 'params');
    const decision = parseOrThrow(decideApproval.body.schema, request.body, 'body');
    return gate.decide({ approvalId: id, decision, submitter: callerOf(request) });
  });
}
