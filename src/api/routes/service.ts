/** Service routes: `GET /health`, `GET /metrics`, `GET /openapi.json`. */
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { buildOpenApiDocument } from '../openapi.ts';
import { ROUTES } from '../route-table.ts';
import { admit } from '../admit.ts';
import type { HealthResponse } from '../schemas.ts';

/** Registers health, metrics and the OpenAPI document. */
export function registerServiceRoutes(app: FastifyInstance, ctx: RouteContext, publicMetrics: boolean): void {
  let openapi: string | undefined;

  app.get(ROUTES.health.url, async (): Promise<HealthResponse> => {
    const h = await ctx.service.health();
    const audit = ctx.audit === undefined ? undefined : { ...ctx.audit.health, tree_size: await ctx.audit.size().catch(() => null) };
    // Why degraded: with the audit store unwritable, no sandbox can start (fail closed).
    const status = audit !== undefined && !audit.writable ? 'degraded' : h.status;
    return { ...h, status, constitutional_hash: h.policy_hash, authentication: ctx.authentication, ...(audit === undefined ? {} : { audit }) };
  });

  app.get(ROUTES.metrics.url, async (request, reply) => {
    // Controller-wide figures: the admin action (operators, by the default policy).
    if (!publicMetrics) await admit(ctx, request, { action: 'admin', parameters: { route: 'metrics' } });
    reply.type(ctx.metrics.contentType);
    return ctx.metrics.render();
  });

  app.get(ROUTES.openapi.url, async (_request, reply) => {
    openapi ??= JSON.stringify(buildOpenApiDocument());
    reply.type('application/json; charset=utf-8');
    return openapi;
  });
}
