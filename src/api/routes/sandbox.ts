/**
 * The seed controller's resource: `POST /api/v1/sandbox/execute` (one-shot),
 * `GET /api/v1/sandbox/status`, and `DELETE /api/v1/sandbox/executions/{id}` (cancel a one-shot).
 * Field names and shapes are the seed's contract.
 */
import type { FastifyInstance } from 'fastify';
import type { OneShotExecution, OneShotRequest } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { toNetworkRequest, checkPath, checkPolicyPin, commandOf, decodeStdin, toLimits, toMounts } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import type { CancelledExecution, ExecuteResponse, StatusResponse } from '../schemas.ts';

/** Response header carrying a one-shot's execution id, set as soon as it is admitted. */
export const EXECUTION_ID_HEADER = 'x-airlock-execution-id';

/** Registers execute, status and cancel. */
export function registerSandboxRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { execute, status, cancelExecution } = ROUTES;

  app.post(execute.url, async (request, reply): Promise<ExecuteResponse> => {
    const body = parseOrThrow(execute.body.schema, request.body, 'body');
    const pin = checkPolicyPin(request.headers, body.expected_policy_hash, ctx.service.policyHash);
    const what = commandOf(body);
    const stdin = decodeStdin(body.stdin, body.stdin_encoding);
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
    if (stdin !== undefined) oneShot.stdin = stdin;
    if (body.image !== undefined) oneShot.image = body.image;
    if (body.workdir !== undefined) oneShot.workdir = checkPath('body.workdir', body.workdir);
    if (pin !== undefined) oneShot.expectedPolicyHash = pin;
    const release = ctx.gate.acquire();
    let run: OneShotExecution | undefined;
    let finished = false;
    let clientGone = false;
    // A client that goes away must not leave its run going unattended (as with an exec); listened
    // for before admission, so a client gone while its request was being admitted is caught too.
    reply.raw.on('close', () => {
      clientGone = true;
      if (!finished) run?.cancel();
    });
    try {
      run = await ctx.service.startExecution(oneShot);
    } catch (err) {
      release();
      throw err;
    }
    if (clientGone) run.cancel();
    reply.header(EXECUTION_ID_HEADER, run.executionId).header('cache-control', 'no-store');
    try {
      const result = await run.result;
      return { ...result, constitutional_hash_verified: pin === undefined || pin === result.policy_hash };
    } finally {
      finished = true;
      release();
    }
  });

  app.get(status.url, async (): Promise<StatusResponse> => {
    const s = ctx.service.status();
    return { ...s, policy_hash: ctx.service.policyHash, constitutional_hash_verified: true };
  });

  app.delete(cancelExecution.url, async (request): Promise<CancelledExecution> => {
    const { id } = parseOrThrow(cancelExecution.params, request.params, 'params');
    return ctx.service.cancelExecution(id);
  });
}
