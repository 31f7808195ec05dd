/**
 * Approvals: list and read them (approvers and operators all, an agent its own tenant's), and decide
 * one with an approver's signed decision. Every answer comes from the approval gate; a refusal leaves
 * as its code's status (src/api/error-codes.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from '../../admission/caller.ts';
import { ApprovalRefusal, type ApprovalGate, type PendingApprovalView } from '../../approvals/gate.ts';
import '../caller-decoration.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';

function callerOf(request: FastifyRequest): Caller {
  // Why throw (a 500): a route reached without the authentication hook is a wiring fault, never an anonymous caller.
  if (request.caller === undefined) throw new Error(`route ${request.routeOptions.url ?? request.url} ran without an authenticated caller`);
  return request.caller;
}

/** Runs a gate call, answering its refusals with their codes. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ApprovalRefusal) throw new ApiError(err.code, err.message);
    throw err;
  }
}

/** Registers the approval routes on `app`, answered by `gate`. Needs the authentication hook that sets `request.caller`. */
export function registerApprovalRoutes(app: FastifyInstance, gate: ApprovalGate): void {
  const { listApprovals, getApproval, decideApproval } = ROUTES;

  app.get(listApprovals.url, async (request) => {
    const approvals = await answer(() => gate.list(callerOf(request)));
    return { approvals, total_count: approvals.length };
  });

  app.get(getApproval.url, async (request): Promise<PendingApprovalView> => {
    const { id } = parseOrThrow(getApproval.params, request.params, 'params');
    return answer(() => gate.get(id, callerOf(request)));
  });

  app.post(decideApproval.url, async (request): Promise<PendingApprovalView> => {
    const { id } = parseOrThrow(decideApproval.params, request.params, 'params');
    const decision = parseOrThrow(decideApproval.body.schema, request.body, 'body');
    return answer(() => gate.decide({ approvalId: id, decision, submitter: callerOf(request) }));
  });
}
