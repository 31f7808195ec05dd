/**
 * The seed controller's resource: `POST /api/v1/sandbox/execute` (one-shot),
 * `GET /api/v1/sandbox/status`, and `DELETE /api/v1/sandbox/executions/{id}` (cancel a one-shot).
 * Field names and shapes are the seed's contract.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { chooseOneShotMode } from '../exec-stream.ts';
import { FrameStream } from '../frame-stream.ts';
import type { OneShotExecution, OneShotRequest } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { withOwnerWrites } from '../../isolation/grants/owner-writes.ts';
import { toNetworkRequest, checkPath, checkPolicyPin, commandOf, decodeStdin, toLimits, toMounts } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import { checkAll } from '../problems.ts';
import { admit, callerOf, NEW_SANDBOX, newSandboxSpec, ownerFor } from '../admit.ts';
import { NO_NETWORK } from '../../network/policy.ts';
import { ServiceError } from '../../sandbox/errors.ts';
import { executionReceipt } from '../receipts.ts';
import { withImageDefaults } from '../image-defaults.ts';
import type { SandboxOwnership } from '../../sandbox/service-types.ts';
import type { CancelledExecution, ExecuteResponse, StatusResponse } from '../schemas.ts';

/** Response header carrying a one-shot's execution id, set as soon as it is admitted. */
export const EXECUTION_ID_HEADER = 'x-airlock-execution-id';

function ownershipOrUndefined(ctx: RouteContext, id: string): SandboxOwnership | undefined {
  try {
    return ctx.service.ownership(id);
  } catch {
    // Ended and forgotten between the listing and this look: nothing to show.
    return undefined;
  }
}

/** Registers execute, status and cancel. */
export function registerSandboxRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { execute, status, cancelExecution } = ROUTES;

  app.post(execute.url, async (request, reply): Promise<ExecuteResponse | FastifyReply> => {
    const parsed = parseOrThrow(execute.body.schema, request.body, 'body');
    // Resolved once: the image's defaults, admission's image check and the run all see this digest.
    const pinned = await ctx.service.pinImage(parsed.image);
    // An imported image's env and, when none is named, its default command, before policy sees the request.
    const body = await withImageDefaults(ctx.service, parsed, pinned);
    // Every problem of the request at once, not the first one found.
    const { pin, what, stdin, limits, mounts, workdir } = await checkAll({
      pin: () => checkPolicyPin(request.headers, body.expected_policy_hash, ctx.service.policyHash),
      what: () => commandOf(body),
      stdin: () => decodeStdin(body.stdin, body.stdin_encoding),
      limits: () => toLimits(body, 'body.', ctx.policy),
      // A unix-socket caller's writable grant of its own directory is written as that caller (an id-mapped mount).
      mounts: async () => withOwnerWrites(await toMounts(body.filesystem_access, 'body.filesystem_access', ctx.policy), callerOf(request).uid),
      workdir: () => (body.workdir === undefined ? undefined : checkPath('body.workdir', body.workdir)),
    });
    const caller = callerOf(request);
    const oneShot: OneShotRequest = {
      agentId: ownerFor(caller, body.agent_id),
      runtime: body.runtime ?? 'namespace',
      limits,
      env: body.environment ?? {},
      mounts,
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
    if (workdir !== undefined) oneShot.workdir = workdir;
    if (pin !== undefined) oneShot.expectedPolicyHash = pin;
    if (body.secrets !== undefined && body.secrets.length > 0) oneShot.secrets = body.secrets;
    const spec = newSandboxSpec(ctx, { ...oneShot, network: oneShot.network ?? NO_NETWORK });
    const target = { owner: oneShot.agentId, spec };
    await admit(ctx, request, { action: 'execute', sandbox: { id: NEW_SANDBOX, ...target }, spec, parameters: { ...oneShot, stdin: stdin?.toString('base64') }, image: pinned });
    let run: OneShotExecution | undefined;
    let finished = false;
    let clientGone = false;
    // A client that goes away must not leave its run going unattended (as with an exec); listened
    // for before admission, so a client gone while its request was being admitted is caught too.
    reply.raw.on('close', () => {
      clientGone = true;
      if (!finished) run?.cancel();
    });
    // Streamed on request only (Accept: application/x-ndjson or text/event-stream): the seed's answer is one JSON body.
    const format = chooseOneShotMode(request.headers.accept);
    const stream = format === 'json' ? undefined : new FrameStream(format);
    const listeners = stream === undefined ? {} : { onStdout: (c: Buffer) => stream.output('stdout', c), onStderr: (c: Buffer) => stream.output('stderr', c) };
    run = await ctx.service.startExecution({ ...oneShot, pinnedImage: pinned, ...listeners });
    if (clientGone) run.cancel();
    const executionId = run.executionId;
    ctx.oneShotTargets.set(executionId, target);
    reply.header(EXECUTION_ID_HEADER, executionId).header('cache-control', 'no-store');
    const answer = run.result
      .then(async (result): Promise<ExecuteResponse> => {
        const receipt = await executionReceipt(ctx, request.log, target.owner, spec, result);
        // The seed's field: whether the request's pin matched (null: the request pinned nothing).
        return { ...result, constitutional_hash_verified: pin === undefined ? null : pin === result.policy_hash, ...(receipt === undefined ? {} : { receipt }) };
      })
      .finally(() => {
        ctx.oneShotTargets.delete(executionId);
        finished = true;
      });
    if (stream === undefined) return answer;
    answer.then((result) => stream.close({ type: 'result', ...result })).catch((err: unknown) => stream.fail(reply, err, request.id, 'execution'));
    return stream.send(reply);
  });

  app.get(status.url, async (request): Promise<StatusResponse> => {
    const caller = callerOf(request);
    const s = ctx.service.status();
    // Tenancy: each entry is shown only to those policy lets read it.
    const visible = s.active_sandboxes.filter((entry) => {
      const known = entry.kind === 'execution' ? ctx.oneShotTargets.get(entry.execution_id) : ownershipOrUndefined(ctx, entry.execution_id);
      return known !== undefined && ctx.admission.permits(caller, 'read', { id: entry.execution_id, ...known });
    });
    return { active_sandboxes: visible, total_count: visible.length, policy_hash: ctx.service.policyHash, constitutional_hash_verified: null };
  });

  app.delete(cancelExecution.url, async (request): Promise<CancelledExecution> => {
    const { id } = parseOrThrow(cancelExecution.params, request.params, 'params');
    const known = ctx.oneShotTargets.get(id);
    // Unknown here: the service says whether it never existed or has already ended.
    if (known !== undefined) await admit(ctx, request, { action: 'kill', sandbox: { id, ...known }, parameters: { execution_id: id } });
    else if (callerOf(request).role !== 'operator') throw new ServiceError('execution_not_found', `no running execution ${id}`);
    return ctx.service.cancelExecution(id);
  });
}
