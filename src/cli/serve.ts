/**
 * `airlock serve [--host 127.0.0.1] [--port 8002] [--config FILE]`: the control plane. Builds the
 * sandbox service and the HTTP API in front of it, listening on TCP (HTTPS with service.tls) and on
 * the unix socket service.socket.path (serve-transport.ts), and on SIGTERM/SIGINT stops accepting,
 * ends every sandbox and exits. Heavy modules load only when the command runs.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { DEFAULT_API_PORT, type AirlockConfig } from '../config/config.ts';
import type { ControllerListeners } from '../network/listeners.ts';
import type { AirlockMetrics } from '../observability/metrics.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import type { AppAccess } from '../api/app.ts';
import type { PeerCredentialsReader } from '../host/peer-credentials.ts';
import type { ServeListener } from './serve-transport.ts';
import type { ControllerAudit } from '../audit/open.ts';
import type { Revoker } from '../revocation/revoker.ts';
import type { ContractStore } from '../store/contracts.ts';
import { UsageError } from './usage-error.ts';

interface RawServeOptions {
  host: string;
  port: string;
  logLevel: string;
}

/** How long a graceful shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** Registers `serve` on the program. `--config` is the program's option (accepted before or after `serve`). */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the control plane: HTTP API in front of the sandbox service')
    .option('--host <address>', 'TCP address to listen on (any address but loopback needs service.tls; clients must also use a Host listed in service.allowedHosts); local callers also have the unix socket, service.socket.path', '127.0.0.1')
    .option('--port <port>', 'TCP port', String(DEFAULT_API_PORT))
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace', 'info')
    .addHelpText('after', '\nThe configuration file is given with --config FILE (before or after "serve").')
    .action(async (raw: RawServeOptions) => {
      const port = parsePort(raw.port);
      if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(raw.logLevel)) throw new UsageError(`--log-level: unknown level "${raw.logLevel}"`);
      const [{ loadConfig }, { createLogger }, { AirlockMetrics }, { SandboxService }, { combineObservers, logObserver }, { ControllerListeners }, { openStore, storePath }, { createAccess }, { openControllerAudit }, { auditObserver }] = await Promise.all([
        import('../config/config.ts'),
        import('../observability/logger.ts'),
        import('../observability/metrics.ts'),
        import('../sandbox/service.ts'),
        import('../observability/log-observer.ts'),
        import('../network/listeners.ts'),
        import('../store/index.ts'),
        import('../admission/access.ts'),
        import('../audit/open.ts'),
        import('../audit/service-record.ts'),
      ]);
      const config = loadConfig(program.opts<{ config?: string }>().config);
      // Before anything starts: plain HTTP off loopback is refused, saying what to set.
      (await import('./serve-transport.ts')).requireTlsOffLoopback(raw.host, isLoopbackAddress(raw.host), config.service.tls);
      const { logger } = createLogger({ level: raw.logLevel });
      const metrics = new AirlockMetrics({ processMetrics: true });
      // One registry of the controller's listeners: the proxies refuse them, the API joins once it listens.
      const listeners = new ControllerListeners(config.network);
      // The policy bundle is validated before anything starts: a bad bundle stops here, naming file and line.
      const store = await openStore(config);
      // The controller key (created on first start) signs the audit log's heads.
      const audit = await openControllerAudit(config, storePath(config), store.audit).catch(async (err: unknown) => {
        await store.close();
        throw err;
      });
      const access = await createAccess({ config, store, audit: audit.log }).catch(async (err: unknown) => {
        await store.close();
        throw err;
      });
      if (config.auth.unsignedLoopback) {
        logger.warn({ as: config.auth.unsignedLoopbackAs }, 'auth.unsignedLoopback is on: any local process can call the API over loopback TCP, unsigned, as this principal (development only)');
      }
      const ownerOf = (id: string) => {
        try {
          return service.ownership(id).owner;
        } catch {
          return undefined;
        }
      };
      const auditEvents = auditObserver({
        audit: audit.log,
        ownerOf,
        policyHash: () => service.policyHash,
        onError: (err, event) => logger.error({ err, kind: event.kind, sandbox_id: event.sandboxId }, 'audit record not written'),
      });
      const [{ openRevocation }, { CONTROLLER_ACTOR }] = await Promise.all([import('../revocation/open.ts'), import('../revocation/revoker.ts')]);
      const revocation: Awaited<ReturnType<typeof openRevocation>> = await openRevocation({
        config, store: store.revocations, audit: audit.log, controllerKey: audit.controllerKey, ownerOf,
        endAgent: (agentId: string): Promise<{ sandboxes: string[]; executions: string[] }> => service.endAgent(agentId),
        onError: (err, agentId) => logger.error({ err, agent_id: agentId }, 'automatic revocation failed'),
      }).catch(async (err: unknown) => {
        await store.close();
        throw err;
      });
      const { forensicTrigger } = await import('../forensics/service-capture.ts');
      // A violation at or above forensics.triggerSeverity captures its sandbox (read once the service below exists).
      const forensics = forensicTrigger(
        () => ({ service, config, controllerKey: audit.controllerKey, audit: audit.log }),
        (result) => logger.warn({ sandbox_id: result.sandbox_id, path: result.path, after: result.after }, 'forensic bundle captured after a violation'),
        (err, sandboxId) => logger.error({ err, sandbox_id: sandboxId }, 'forensic capture after a violation failed'),
      );
      // Every egress decision is held to its owner's behavior contract (a POLICY violation, or a kill with enforce: kill).
      const egressGuard = (await import('../contracts/egress.ts')).contractEgressGuard(store.contracts);
      const service = new SandboxService({ config, policyBundleHash: access.engine.hash, observer: combineObservers(metrics, logObserver(logger), auditEvents, revocation.observer, forensics), listeners, egressGuard,
        // A seccomp denial answered kill_and_revoke revokes the owner through the one revocation path.
        denials: { revokeAgent: (agentId, why) => void revocation.revoker.revoke(agentId, why, CONTROLLER_ACTOR).catch((err: unknown) => logger.error({ err, agent_id: agentId }, 'revocation after a seccomp denial failed')) },
      });
      // Not fatal: an unwritable store refuses every sandbox (fail closed) and /health says why.
      await audit.log.append({ kind: 'policy.loaded', agentId: null, data: { policy_hash: service.policyHash, policy_bundle_hash: access.engine.hash } }).catch((err: unknown) => logger.error({ err }, 'audit log cannot be written: every sandbox will be refused until it can'));
      const stopHeads = audit.log.signPeriodically(config.audit.headIntervalSeconds * 1000, (err) => logger.error({ err }, 'audit tree head not signed'));
      const { reaped, poolErrors } = await service.start();
      // Sandboxes of a controller that crashed: their leftovers were just released.
      if (reaped.length > 0) logger.warn({ reaped }, 'reaped sandboxes left by a previous controller');
      for (const error of poolErrors) logger.error({ error }, 'warm pool not started');
      const server = await startServer({ service, access, metrics, logger, config, listeners, host: raw.host, port, audit, revoker: revocation.revoker, contracts: store.contracts });
      const hostWarning = unlistedHostWarning(raw.host, config.service.allowedHosts);
      if (hostWarning !== undefined) logger.warn({ host: raw.host, allowed_hosts: config.service.allowedHosts }, hostWarning);
      logger.info({ address: server.address, listeners: server.listeners, policy_hash: service.policyHash, allowed_hosts: config.service.allowedHosts, controller_key: audit.publicKeyPath }, 'airlock control plane listening');
      await closeOnSignals(server, logger);
      stopHeads();
      // A last head, so the records of the shutdown are covered by a signature too.
      await audit.log.signHead().catch((err: unknown) => logger.error({ err }, 'final audit tree head not signed'));
      await audit.close();
      await store.close();
    });
}

/** True for an address only this host can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}

/**
 * The startup warning for `--host` outside loopback: the Host allowlist (DNS-rebinding guard) is
 * not widened by `--host`, so clients using this address or another name get 421 until it is listed.
 */
export function unlistedHostWarning(host: string, allowedHosts: readonly string[]): string | undefined {
  if (isLoopbackAddress(host)) return undefined;
  const name = isIPv6(host) ? `[${host}]` : host;
  if (allowedHosts.some((entry) => entry.toLowerCase() === name.toLowerCase())) return undefined;
  const example = host === '0.0.0.0' || host === '::' ? 'the address or DNS name clients use' : `"${name}" (or the DNS name clients use)`;
  return (
    `listening on ${host}, but requests are answered only when their Host header is one of service.allowedHosts ` +
    `(${allowedHosts.join(', ')}); others get 421 host_not_allowed. --host adds nothing to that list: add ${example} ` +
    'to service.allowedHosts in the configuration file'
  );
}

/** Parses `--port`: a whole number 0-65535. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535) throw new UsageError(`--port: expected 0-65535, got "${value}"`);
  return port;
}

export interface StartServerOptions {
  service: SandboxServiceApi;
  /** Authentication and the admission path (src/admission/access.ts). */
  access: AppAccess;
  metrics: AirlockMetrics;
  logger: Logger;
  config: AirlockConfig;
  /** The registry the service's egress proxies read: the API's addresses are added once bound. */
  listeners: ControllerListeners;
  host: string;
  port: number;
  /** The audit log and controller key: audit routes, receipts, audit status in /health. */
  audit?: ControllerAudit | undefined;
  /** The revocation list: the revocation routes. */
  revoker?: Revoker | undefined;
  /** The behavior contracts: the contract routes. */
  contracts?: ContractStore | undefined;
}

/** A listening control plane. */
export interface RunningServer {
  app: FastifyInstance;
  /** `http://host:port` (`https://` with TLS) actually bound on TCP. */
  address: string;
  /** Every bound listener with its scheme: TCP (http or https) and the unix socket (http) when configured. */
  listeners: ServeListener[];
  /** Reads the uid of unix-socket callers (undefined for other connections); absent without a socket. */
  peers: PeerCredentialsReader | undefined;
  /** Stops accepting, ends every sandbox (service shutdown), waits for connections to drain. */
  close(): Promise<void>;
}

/**
 * Builds the app, listens on TCP and on the unix socket (service.socket), and registers every bound
 * TCP address as a controller listener (so no sandbox's proxy reaches the API or /metrics). If any
 * of it fails, the service is shut down before the error propagates.
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { buildApp } = await import('../api/app.ts');
  const { ServeTransport } = await import('./serve-transport.ts');
  const { deniedHostPrefixes } = await import('../sandbox/request-rules.ts');
  const { config } = options;
  const transport = await ServeTransport.open(config, options.host, isLoopbackAddress(options.host)).catch(async (err: unknown) => {
    await options.service.shutdown().catch(() => undefined);
    throw err;
  });
  const app = buildApp({
    service: options.service,
    // The unix socket's callers are identified by the peer credentials the transport reads.
    access: { ...options.access, peers: transport.peers },
    metrics: options.metrics,
    logger: options.logger,
    limits: { defaults: config.defaults, maxima: config.maxima },
    // The same list policy_hash covers: the fixed trees and the controller's own state.
    deniedHostPrefixes: deniedHostPrefixes(config),
    fileBodyLimit: config.service.fileMaxBytes,
    corsOrigins: config.service.corsOrigins,
    publicMetrics: config.service.publicMetrics,
    allowedHosts: config.service.allowedHosts,
    closeService: true,
    serverFactory: transport.serverFactory,
    audit: options.audit,
    revoker: options.revoker,
    contracts: options.contracts,
    forensics: config,
  });
  const closeAll = async () => {
    try {
      await app.close();
    } finally {
      await transport.closeUnix();
    }
  };
  try {
    // Fastify names the address http:// whatever its server is; the scheme is the transport's.
    const address = (await app.listen({ host: options.host, port: options.port })).replace(/^http:/, `${transport.tcpScheme}:`);
    const bound: ServeListener[] = [];
    for (const tcp of app.addresses()) {
      // A unix-socket listener (a string) cannot be reached over TCP; only TCP ones are registered.
      if (typeof tcp === 'string') continue;
      options.listeners.add({ address: tcp.address, port: tcp.port, what: 'API' });
      bound.push({ transport: 'tcp', scheme: transport.tcpScheme, address: tcp.address, port: tcp.port });
    }
    const unix = await transport.listenUnix(options.logger);
    if (unix !== undefined) bound.push(unix);
    let closing: Promise<void> | undefined;
    return { app, address, listeners: bound, peers: transport.peers, close: () => (closing ??= closeAll()) };
  } catch (err) {
    await closeAll().catch(() => undefined);
    await options.service.shutdown().catch(() => undefined);
    throw err;
  }
}

/**
 * Resolves once the server has closed after SIGTERM or SIGINT. A second signal, or a shutdown that
 * outlasts the timeout, exits at once (the next start reaps whatever was left).
 */
export function closeOnSignals(server: RunningServer, logger: Logger, timeoutMs = SHUTDOWN_TIMEOUT_MS): Promise<void> {
  return new Promise((resolve) => {
    let closing = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (closing) {
        logger.warn({ signal }, 'second signal during shutdown: exiting now');
        process.exit(1);
      }
      closing = true;
      logger.info({ signal }, 'shutting down: refusing new requests, ending every sandbox');
      const timer = setTimeout(() => {
        logger.error({ timeout_ms: timeoutMs }, 'shutdown timed out: exiting now');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      server
        .close()
        .then(
          () => logger.info('shutdown complete'),
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exitCode = 1;
          },
        )
        .finally(() => {
          clearTimeout(timer);
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolve();
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
