/**
 * Persistent sandboxes in the vocabulary E2B users know: create, list, get, delete (kill) and
 * timeout (set the idle lifetime from now).
 */
import type { FastifyInstance } from 'fastify';
import type { CreateSandboxOptions, SandboxInfo } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { withOwnerWrites } from '../../isolation/grants/owner-writes.ts';
import { toNetworkRequest, checkPolicyPin, toLimits, toMounts } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';
import { checkAll } from '../problems.ts';
import { admit, callerOf, NEW_SANDBOX, newSandboxSpec, ownerFor, targetOf } from '../admit.ts';
import { NO_NETWORK } from '../../network/policy.ts';
import { endedSandboxReceipt } from '../receipts.ts';
import { withImageEnvironment } from '../image-defaults.ts';
import type { AuditReceipt } from '../../audit/receipt.ts';


/** Registers the sandbox lifecycle routes. */
export function registerSandboxesRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { createSandbox, listSandboxes, getSandbox, deleteSandbox, setTimeout, getNetwork, setAllowlist } = ROUTES;

  app.post(createSandbox.url, async (request, reply): Promise<SandboxInfo> => {
    const parsed = parseOrThrow(createSandbox.body.schema, request.body, 'body');
    // Resolved once: the image's environment, admission's image check and the start all see this digest.
    const pinned = await ctx.service.pinImage(parsed.image);
    // An imported image's env under the request's, before policy sees it (every exec runs under it).
    const body = await withImageEnvironment(ctx.service, parsed, pinned);
    // Every problem of the request at once, not the first one found.
    const { limits, mounts } = await checkAll({
      pin: () => checkPolicyPin(request.headers, body.expected_policy_hash, ctx.service.policyHash),
      limits: () => toLimits(body.limits, 'body.limits.', ctx.policy),
      // A unix-socket caller's writable grant of its own directory is written as that caller (an id-mapped mount).
      mounts: async () => withOwnerWrites(await toMounts(body.filesystem_access, 'body.filesystem_access', ctx.policy), callerOf(request).uid),
    });
    const options: CreateSandboxOptions = {
      runtime: body.runtime ?? 'namespace',
      limits,
      metadata: body.metadata ?? {},
      env: body.environment ?? {},
      mounts,
      network: toNetworkRequest(body),
    };
    if (body.image !== undefined) options.image = body.image;
    if (body.ttl_seconds !== undefined) options.ttlSeconds = body.ttl_seconds;
    if (body.idle_timeout_seconds !== undefined) options.idleTimeoutSeconds = body.idle_timeout_seconds;
    if (body.secrets !== undefined && body.secrets.length > 0) options.secrets = body.secrets;
    options.agentId = ownerFor(callerOf(request), body.agent_id);
    const spec = newSandboxSpec(ctx, { ...options, network: options.network ?? NO_NETWORK });
    await admit(ctx, request, { action: 'create', sandbox: { id: NEW_SANDBOX, owner: options.agentId, spec }, spec, parameters: options, image: pinned });
    const info = await ctx.service.create({ ...options, pinnedImage: pinned });
    reply.code(201);
    return info;
  });

  app.get(listSandboxes.url, async (request) => {
    const caller = callerOf(request);
    // Tenancy: each sandbox is listed only for those policy lets read it.
    const sandboxes = ctx.service.list().filter((info) => ctx.admission.permits(caller, 'read', targetOf(ctx, info.sandbox_id)));
    return { sandboxes, total_count: sandboxes.length };
  });

  app.get(getSandbox.url, async (request): Promise<SandboxInfo & { receipt?: AuditReceipt | null }> => {
    const { id } = parseOrThrow(getSandbox.params, request.params, 'params');
    await admit(ctx, request, { action: 'read', sandbox: targetOf(ctx, id), parameters: {} });
    const info = ctx.service.get(id);
    const receipt = await endedSandboxReceipt(ctx, request.log, info);
    return receipt === undefined ? info : { ...info, receipt };
  });

  app.delete(deleteSandbox.url, async (request): Promise<SandboxInfo & { receipt?: AuditReceipt | null }> => {
    const { id } = parseOrThrow(deleteSandbox.params, request.params, 'params');
    await admit(ctx, request, { action: 'kill', sandbox: targetOf(ctx, id), parameters: {} });
    const info = await ctx.service.kill(id);
    const receipt = await endedSandboxReceipt(ctx, request.log, info);
    return receipt === undefined ? info : { ...info, receipt };
  });

  app.post(setTimeout.url, async (request): Promise<SandboxInfo> => {
    const { id } = parseOrThrow(setTimeout.params, request.params, 'params');
    const body = parseOrThrow(setTimeout.body.schema, request.body, 'body');
    // Its lifetime is the owner's to set, like ending it.
    await admit(ctx, request, { action: 'kill', sandbox: targetOf(ctx, id), parameters: { ttl_seconds: body.ttl_seconds } });
    return ctx.service.setTimeout(id, body.ttl_seconds);
  });

  app.get(getNetwork.url, async (request) => {
    const { id } = parseOrThrow(getNetwork.params, request.params, 'params');
    await admit(ctx, request, { action: 'read', sandbox: targetOf(ctx, id), parameters: {} });
    return ctx.service.network(id);
  });

  app.put(setAllowlist.url, async (request) => {
    const { id } = parseOrThrow(setAllowlist.params, request.params, 'params');
    const body = parseOrThrow(setAllowlist.body.schema, request.body, 'body');
    const sandbox = targetOf(ctx, id);
    const spec = { ...sandbox.spec, network: { ...sandbox.spec.network, allowedHosts: body.allowed_hosts } };
    await admit(ctx, request, { action: 'network.change', sandbox, spec, parameters: { allowed_hosts: body.allowed_hosts } });
    return ctx.service.setAllowlist(id, body.allowed_hosts);
  });
}
