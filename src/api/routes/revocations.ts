/**
 * Revocation over HTTP, operators only (Cedar's `admin` action, like every other controller-wide
 * route): revoke an agent (its live sandboxes end within the request), unrevoke it, list, export
 * the signed list and import another controller's. Without a revoker (no store) each answers 503.
 */
import type { FastifyInstance } from 'fastify';
import type { Caller } from '../../admission/caller.ts';
import type { AuditActor } from '../../audit/record.ts';
import { ListRefusal } from '../../revocation/signed-list.ts';
import type { Revoker } from '../../revocation/revoker.ts';
import type { Revocation } from '../../store/revocations.ts';
import { StoreError } from '../../store/errors.ts';
import { admit, callerOf } from '../admit.ts';
import type { RouteContext } from '../context.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';

function wire(r: Revocation) {
  return { agent_id: r.agentId, reason: r.reason, revoked_by: r.revokedBy, revoked_at: new Date(r.revokedAtMs).toISOString(), source: r.source };
}

function actorOf(caller: Caller): AuditActor {
  return { name: caller.name, role: caller.role, agent_id: caller.agentId };
}

/** Registers the revocation routes. */
export function registerRevocationRoutes(app: FastifyInstance, ctx: RouteContext, revoker: Revoker | undefined): void {
  const { revoke, unrevoke, revocationList, revocationExport, revocationImport } = ROUTES;
  const need = (): Revoker => {
    if (revoker === undefined) throw new ApiError('control_failed', 'this controller keeps no revocation list (it has no store)');
    return revoker;
  };

  app.post(revoke.url, async (request, reply) => {
    const body = parseOrThrow(revoke.body.schema, request.body, 'body');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'revocations.revoke', agent_id: body.agent_id, reason: body.reason } });
    const done = await need().revoke(body.agent_id, body.reason, actorOf(callerOf(request)));
    reply.code(done.created ? 201 : 200);
    return { ...wire(done.revocation), created: done.created, sandboxes_ended: [...done.ended.sandboxes], executions_ended: [...done.ended.executions] };
  });

  app.delete(unrevoke.url, async (request) => {
    const params = parseOrThrow(unrevoke.params, request.params, 'params');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'revocations.unrevoke', agent_id: params.agent_id } });
    if (!(await need().unrevoke(params.agent_id, actorOf(callerOf(request))))) throw new ApiError('agent_not_revoked', `agent ${params.agent_id} is not revoked`);
    return { agent_id: params.agent_id, revoked: false };
  });

  app.get(revocationList.url, async (request) => {
    await admit(ctx, request, { action: 'admin', parameters: { route: 'revocations.list' } });
    return { revocations: (await need().list()).map(wire) };
  });

  app.get(revocationExport.url, async (request) => {
    await admit(ctx, request, { action: 'admin', parameters: { route: 'revocations.export' } });
    return need().exportList();
  });

  app.post(revocationImport.url, async (request) => {
    // The shape first, like every route: a malformed list is 400 invalid_request naming the field.
    const list = parseOrThrow(revocationImport.body.schema, request.body, 'body');
    await admit(ctx, request, { action: 'admin', parameters: { route: 'revocations.import', issuer: list.list.issuer, sequence: list.list.sequence } });
    try {
      return await need().importList(list, actorOf(callerOf(request)));
    } catch (err) {
      if (err instanceof ListRefusal) throw new ApiError(err.code === 'invalid_list' ? 'invalid_request' : err.code, err.message);
      if (err instanceof StoreError && err.code === 'stale_list') throw new ApiError('stale_list', err.message);
      throw err;
    }
  });
}
