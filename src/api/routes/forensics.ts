/**
 * `POST /api/v1/sandboxes/{id}/forensics`: an operator's on-demand capture, the admin action: a
 * bundle holds a sandbox's memory and files and is signed with the controller key, and capturing
 * freezes (and by default kills) the sandbox.
 */
import type { FastifyInstance } from 'fastify';
import type { KeyObject } from 'node:crypto';
import type { AuditLog } from '../../audit/log.ts';
import type { AirlockConfig } from '../../config/config.ts';
import { captureServiceSandbox } from '../../forensics/service-capture.ts';
import { admit } from '../admit.ts';
import type { RouteContext } from '../context.ts';
import { ApiError, parseOrThrow } from '../errors.ts';
import { ROUTES } from '../route-table.ts';

/** What the forensics route needs; without it the route answers 503. */
export interface ForensicsRouteOptions {
  readonly config: Pick<AirlockConfig, 'forensics' | 'stateDir'>;
  readonly controllerKey: KeyObject;
  readonly audit: AuditLog | undefined;
}

/** Registers the capture route. */
export function registerForensicsRoutes(app: FastifyInstance, ctx: RouteContext, options: ForensicsRouteOptions | undefined): void {
  const { captureForensics } = ROUTES;
  app.post(captureForensics.url, async (request) => {
    const { id } = parseOrThrow(captureForensics.params, request.params, 'params');
    // Why admin, asked before the sandbox is looked up: who may not capture learns nothing of which sandboxes exist.
    await admit(ctx, request, { action: 'admin', parameters: { route: 'forensics.capture', sandbox_id: id } });
    // An unknown sandbox is a 404 whatever this server can do (the service throws sandbox_not_found).
    ctx.service.get(id);
    // Why 503 without the controller key: an unsigned bundle would prove nothing.
    if (options === undefined) throw new ApiError('audit_unavailable', 'forensic capture needs the controller key, and this server keeps no audit log');
    return captureServiceSandbox({ service: ctx.service, config: options.config, controllerKey: options.controllerKey, audit: options.audit }, id, `on demand by ${request.caller?.name ?? 'unknown'}`);
  });
}
