/**
 * Persistent sandboxes in the vocabulary E2B users know: create, list, get, delete (kill) and
 * timeout (set the idle lifetime from now).
 */
import type { FastifyInstance } from 'fastify';
import type { CreateSandboxOptions, SandboxInfo } from '../../sandbox/service-types.ts';
import type { RouteContext } from '../context.ts';
import { parseOrThrow } from '../errors.ts';
import { toNetworkRequest, checkPolicyPin, toLimits, toMounts } from '../request-mapping.ts';
import { ROUTES } from '../route-table.ts';

/** Registers the sandbox lifecycle routes. */
export function registerSandboxesRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { createSandbox, listSandboxes, getSandbox, deleteSandbox, setTimeout, getNetwork, setAllowlist } = ROUTES;

  app.post(createSandbox.url, async (request, reply): Promise<SandboxInfo> => {
    const body = parseOrThrow(createSandbox.body.schema, request.body, 'body');
    checkPolicyPin(request.headers, body.expected_policy_hash, ctx.service.policyHash);
    const options: CreateSandboxOptions = {
      runtime: body.runtime ?? 'namespace',
      limits: toLimits(body.limits, 'body.limits.', ctx.policy),
      metadata: body.metadata ?? {},
      env: body.environment ?? {},
      mounts: await toMounts(body.filesystem_access, 'body.filesystem_access', ctx.policy),
      network: toNetworkRequest(body),
    };
    if (body.image !== undefined) options.image = body.image;
    if (body.ttl_seconds !== undefined) options.ttlSeconds = body.ttl_seconds;
    if (body.agent_id !== undefined) options.agentId = body.agent_id;
    const release = ctx.gate.acquire();
    try {
      const info = await ctx.service.create(options);
      reply.code(201);
      return info;
    } finally {
      release();
    }
  });

  app.get(listSandboxes.url, async () => {
    const sandboxes = ctx.service.list();
    return { sandboxes, total_count: sandboxes.length };
  });

  app.get(getSandbox.url, async (request): Promise<SandboxInfo> => {
    const { id } = parseOrThrow(getSandbox.params, request.params, 'params');
    return ctx.service.get(id);
  });

  app.delete(deleteSandbox.url, async (request): Promise<SandboxInfo> => {
    const { id } = parseOrThrow(deleteSandbox.params, request.params, 'params');
    return ctx.service.kill(id);
  });

  app.post(setTimeout.url, async (request): Promise<SandboxInfo> => {
    const { id } = parseOrThrow(setTimeout.params, request.params, 'params');
    const body = parseOrThrow(setTimeout.body.schema, request.body, 'body');
    return ctx.service.setTimeout(id, body.ttl_seconds);
  });

  app.get(getNetwork.url, async (request) => {
    const { id } = parseOrThrow(getNetwork.params, request.params, 'params');
    return ctx.service.network(id);
  });

  app.put(setAllowlist.url, async (request) => {
    const { id } = parseOrThrow(setAllowlist.params, request.params, 'params');
    const body = parseOrThrow(setAllowlist.body.schema, request.body, 'body');
    return ctx.service.setAllowlist(id, body.allowed_hosts);
  });
}
