/**
 * The seed controller's resource: `POST /api/v1/sandbox/execute` (one-shot) and
 * `GET /api/v1/sandbox/status`. Field names and shapes are the seed's contract.
 */
import type { FastifyInstance } from 'fastify';
import type { OneShotRequest } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { toNetworkRequest, checkPolicyPin, commandOf, toLimits, toMounts } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import type { ExecuteResponse, StatusResponse } from '../schemas.ts';

/** Registers execute and status. */
export function registerSandboxRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { execute, status } = ROUTES;

  app.post(execute.url, async (request): Promise<ExecuteResponse> => {
    const body = parseOrThrow(execute.body.schema, request.body, 'body');
    const pin = checkPolicyPin(request.headers, body.expected_policy_hash, ctx.service.policyHash);
    const what = commandOf(body);
    const oneShot: OneShotRequest = {
      agentId: body.agent_id,
      runtime: body.runtime ?? 'namespace',
      limits: toLimits(body, 'body.', ctx.policy),
      env: body.environment ?? {},
      mounts: await toMounts(body.filesystem_access, 'body.filesystem_access', ctx.policy),
      network: toNetworkRequest(body),
    };
    if (what.command !== undefined) {
      oneShot.command = what.command;
    } else {
      oneShot.code = what.code;
      oneShot.language = what.language;
    }
    if (pin !== undefined) oneShot.expectedPolicyHash = pin;
    const release = ctx.gate.acquire();
    try {
      const result = await ctx.service.execute(oneShot);
      return { ...result, constitutional_hash_verified: pin === undefined || pin === result.policy_hash };
    } finally {
      release();
    }
  });

  app.get(status.url, async (): Promise<StatusResponse> => {
    const s = ctx.service.status();
    return { ...s, policy_hash: ctx.service.policyHash, constitutional_hash_verified: true };
  });
}
