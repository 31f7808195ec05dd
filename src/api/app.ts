/**
 * Builds the control plane's Fastify instance in front of a `SandboxServiceApi`. Nothing here
 * listens or touches process state: `airlock serve` (src/cli/serve.ts) does that, and tests drive
 * the instance in-process with `app.inject()`.
 */
import type { ServerResponse } from 'node:http';
import cors from '@fastify/cors';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerFactory } from 'fastify';
import type { Logger } from 'pino';
import { DEFAULT_CONFIG, type AirlockConfig, type LimitBounds } from '../config/config.ts';
import { AirlockMetrics } from '../observability/metrics.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { InflightGate, type RouteContext } from './context.ts';
import { StartQueue } from '../sandbox/start-queue.ts';
import { DEFAULT_ALLOWED_HOSTS } from '../config/allowed-hosts.ts';
import { errorBody, generateRequestId, handleClientError, handleError, handleNotFound } from './errors.ts';
import { errorStatus } from './error-codes.ts';
import { registerHostCheck } from './host-check.ts';
import { registerAuthentication, type PeerLookup } from './authentication.ts';
import type { Admission } from '../admission/admission.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import { registerApprovalRoutes } from './routes/approvals.ts';
import type { Authenticator } from '../admission/authenticate.ts';
import { DEFAULT_DENIED_HOST_PREFIXES } from './request-mapping.ts';
import { ROUTES } from './route-table.ts';
import { registerExecRoutes } from './routes/exec.ts';
import { registerFilesRoutes } from './routes/files.ts';
import { registerSandboxRoutes } from './routes/sandbox.ts';
import { registerSandboxesRoutes } from './routes/sandboxes.ts';
import { registerServiceRoutes } from './routes/service.ts';
import { registerAuditRoutes, type EventStreamOptions } from './routes/audit.ts';
import { registerForensicsRoutes } from './routes/forensics.ts';
import { registerRevocationRoutes } from './routes/revocations.ts';
import type { Revoker } from '../revocation/revoker.ts';
import { registerContractRoutes } from './routes/contracts.ts';
import type { ContractStore } from '../store/contracts.ts';
import type { AuditLog } from '../audit/log.ts';
import type { KeyObject } from 'node:crypto';

/** Who may ask, and the admission path: built once per controller (src/admission/access.ts). */
export interface AppAccess {
  authenticator: Authenticator;
  admission: Admission;
  /** Pending approvals: listed, shown and decided by the approval routes. */
  approvals: ApprovalGate;
  /** Peer credentials of unix-socket connections; absent when the server has no socket. */
  peers?: PeerLookup | undefined;
}

/** Options of `buildApp`; `service` and `access` are required. */
export interface AppOptions {
  service: SandboxServiceApi;
  /** Authentication and admission: no route but /health and /openapi.json runs without them. */
  access: AppAccess;
  /**
   * Serve /metrics without authentication (for scrapers that can't sign). Default false: the
   * egress series name hosts that tenants' sandboxes contacted; an operator (the `admin` action) reads them.
   */
  publicMetrics?: boolean;
  /** Metrics to export; pass the instance given to the service as its observer. Default: a new one. */
  metrics?: AirlockMetrics;
  /** Request logs go here; default: no logging. */
  logger?: Logger;
  /** Limit defaults and maxima requests are checked against; default the built-in configuration. */
  limits?: { defaults: LimitBounds; maxima: LimitBounds };
  /** Largest JSON body, bytes (default 1 MiB). */
  jsonBodyLimit?: number;
  /** Largest file upload, bytes (default 16 MiB). */
  fileBodyLimit?: number;
  /** Concurrent execute/create/exec requests before 429 (default 64). */
  maxInflight?: number;
  /** Retry-After seconds sent with the API's own 429s (default 1). */
  retryAfterSeconds?: number;
  /** Concurrent file uploads before 429 (default 8): each may buffer up to fileBodyLimit. */
  maxConcurrentUploads?: number;
  /** Cap per stream of exec output collected for `?stream=false`, bytes (default 1 MiB). */
  maxCollectedOutputBytes?: number;
  /** Host trees never granted via filesystem_access (default /proc /sys /dev /run /var/run /boot). */
  deniedHostPrefixes?: readonly string[];
  /** When set, filesystem_access may only grant paths under these. */
  allowedHostPrefixes?: readonly string[];
  /** `app.close()` also shuts the service down (ending every sandbox). Default false. */
  closeService?: boolean;
  /**
   * Creates the HTTP server Fastify listens with (Fastify's serverFactory): `airlock serve` passes
   * one that makes an HTTPS server when TLS is configured, and the unix-socket server beside it.
   */
  serverFactory?: FastifyServerFactory;
  /**
   * Exact browser origins (`https://app.example.com`) allowed to call the API cross-origin.
   * Default none: without an allowlist no CORS header is ever sent, so other sites' pages can't read
   * responses or start sandboxes through a visitor's browser.
   */
  corsOrigins?: readonly string[];
  /**
   * `Host` names answered over TCP (src/config/allowed-hosts.ts says how they match); any other
   * `Host` gets 421 before routing, which closes DNS rebinding. Default the loopback names.
   */
  allowedHosts?: readonly string[];
  /**
   * The audit log and the controller key that signs its heads: enables the audit routes, receipts
   * on results and the audit status in /health. Absent: none of them (tests, embedders).
   */
  audit?: { log: AuditLog; controllerKey: KeyObject; events?: EventStreamOptions } | undefined;
  /** The revocation list: enables the revocation routes (503 without it). */
  revoker?: Revoker | undefined;
  /** The behavior contracts: enables the contract routes (503 without them). */
  contracts?: ContractStore | undefined;
  /** Forensics settings: with `audit` (its controller key signs bundles), enables the capture route (503 without). */
  forensics?: Pick<AirlockConfig, 'forensics' | 'stateDir'> | undefined;
}

const MiB = 1024 * 1024;
/** How long shutdown waits for responses in flight after the service has ended every sandbox. */
const DRAIN_MS = 10_000;

/** Creates the Fastify instance with every route, the error envelope, request ids and metrics. */
export function buildApp(options: AppOptions): FastifyInstance {
  const metrics = options.metrics ?? new AirlockMetrics();
  const jsonBodyLimit = options.jsonBodyLimit ?? MiB;
  const app = Fastify({
    ...(options.logger === undefined ? { logger: false } : { loggerInstance: options.logger }),
    genReqId: generateRequestId,
    bodyLimit: jsonBodyLimit,
    routerOptions: { maxParamLength: 256 },
    // Prototype-pollution keys in JSON are refused, not stripped.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Our own onRequest hook answers during shutdown, with the error envelope.
    return503OnClosing: false,
    clientErrorHandler: handleClientError,
    frameworkErrors: (err, request, reply) => handleError(err, request, reply),
    // Slow-loris guard: a request must arrive in full within this time.
    requestTimeout: 60_000,
    ...(options.serverFactory === undefined ? {} : { serverFactory: options.serverFactory }),
    // The cast only widens pino's Logger type to Fastify's base logger type.
  }) as unknown as FastifyInstance;

  const ctx: RouteContext = {
    service: options.service,
    admission: options.access.admission,
    oneShotTargets: new Map(),
    authentication: {
      unix_socket: options.access.peers !== undefined,
      signed_requests: options.access.authenticator.modes.signatures,
      unsigned_loopback: options.access.authenticator.modes.unsignedLoopback,
    },
    metrics,
    policy: {
      defaults: options.limits?.defaults ?? DEFAULT_CONFIG.defaults,
      maxima: options.limits?.maxima ?? DEFAULT_CONFIG.maxima,
      deniedHostPrefixes: options.deniedHostPrefixes ?? DEFAULT_DENIED_HOST_PREFIXES,
      allowedHostPrefixes: options.allowedHostPrefixes,
    },
    gate: new InflightGate(options.maxInflight ?? 64, options.retryAfterSeconds ?? 1, () => metrics.capacityRefused()),
    jsonBodyLimit,
    fileBodyLimit: options.fileBodyLimit ?? 16 * MiB,
    uploadGate: new InflightGate(options.maxConcurrentUploads ?? 8, options.retryAfterSeconds ?? 1),
    maxCollectedOutputBytes: options.maxCollectedOutputBytes ?? MiB,
    audit: options.audit?.log,
  };
  metrics.setActiveSandboxesSource(() => options.service.status().total_count);
  const stopAuditLatency = options.audit?.log.observeAppendLatency((seconds) => metrics.auditAppended(seconds));
  if (stopAuditLatency !== undefined) app.addHook('onClose', async () => void stopAuditLatency());

  // First of all hooks: a request for a name not listed (DNS rebinding) reaches nothing else.
  registerHostCheck(app, options.allowedHosts ?? DEFAULT_ALLOWED_HOSTS);

  if ((options.corsOrigins ?? []).length > 0) {
    void app.register(cors, {
      origin: [...(options.corsOrigins ?? [])],
      methods: ['GET', 'PUT', 'POST', 'DELETE'],
      // The SDK reads these: request ids in errors, the exec id of a stream, a one-shot's execution id, the 429 retry hint.
      exposedHeaders: ['x-request-id', 'x-airlock-exec-id', 'x-airlock-execution-id', 'retry-after'],
      maxAge: 600,
    });
  }

  // At the cap, a request that would take a slot is refused before its body is read or parsed:
  // a 429 costs nothing, so a burst past the cap can't delay the answers. Once authenticated, a
  // gated request holds its slot until its response, and goes on one macrotask after the previous
  // one: its body, admission and validation then never run back to back with a burst's others,
  // ahead of their 429s and /health.
  const gated = new Set([ROUTES.execute, ROUTES.createSandbox, ROUTES.exec].map((r) => `${r.method} ${r.url}`));
  const isGated = (request: FastifyRequest) => gated.has(`${request.method} ${request.routeOptions.url ?? ''}`);
  const paced = new StartQueue(1);
  const refuseIfFull = (request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined => {
    if (!ctx.gate.full) return undefined;
    // Answered here rather than thrown: no Error, rejection or error handler on the path a burst takes most.
    const { code, message, headers } = ctx.gate.refusal();
    request.log.info({ code, status: errorStatus(code) }, 'request refused');
    reply.code(errorStatus(code)).headers(headers).header('x-request-id', request.id).type('application/json; charset=utf-8');
    return reply.send(errorBody(code, message, request.id));
  };
  app.addHook('onRequest', async (request, reply) => {
    if (isGated(request)) return refuseIfFull(request, reply);
  });

  // JSON is the only body format outside the file routes: text/plain is a 415, not a string.
  app.removeContentTypeParser('text/plain');
  registerAuthentication(app, options.access.authenticator, options.access.peers, options.publicMetrics ?? false);
  // Why after authentication: an unauthenticated client must not hold a slot (nor queue for a turn).
  app.addHook('onRequest', async (request, reply) => {
    if (!isGated(request)) return;
    if (refuseIfFull(request, reply) !== undefined) return reply;
    const release = ctx.gate.acquire();
    reply.raw.once('finish', release).once('close', release);
    (await paced.turn())();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);

  let closing = false;
  const open = new Set<ServerResponse>();
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    const res = reply.raw;
    open.add(res);
    res.once('close', () => open.delete(res));
    res.once('finish', () => open.delete(res));
    if (closing) {
      reply.code(errorStatus('shutting_down')).header('connection', 'close').header('retry-after', '5').type('application/json; charset=utf-8');
      return reply.send(errorBody('shutting_down', 'the server is shutting down', request.id));
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Ending the sandboxes ends their exec streams, so open connections drain instead of hanging.
    if (options.closeService !== true) return;
    await options.service.shutdown();
    // Node's server.close() only drops connections idle at that moment: let the ended streams
    // finish first, so keep-alive sockets are idle (and closed) instead of holding the exit.
    const deadline = Date.now() + DRAIN_MS;
    while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  });

  registerSandboxRoutes(app, ctx);
  registerSandboxesRoutes(app, ctx);
  registerExecRoutes(app, ctx);
  registerFilesRoutes(app, ctx);
  registerServiceRoutes(app, ctx, options.publicMetrics ?? false);
  registerApprovalRoutes(app, options.access.approvals);
  registerAuditRoutes(app, ctx, options.audit === undefined ? undefined : { audit: options.audit.log, controllerKey: options.audit.controllerKey, ...(options.audit.events === undefined ? {} : { events: options.audit.events }) });
  registerRevocationRoutes(app, ctx, options.revoker);
  registerContractRoutes(app, ctx, options.contracts, options.audit?.log);
  registerForensicsRoutes(app, ctx, options.forensics === undefined || options.audit === undefined ? undefined : { config: options.forensics, controllerKey: options.audit.controllerKey, audit: options.audit.log });
  return app;
}
