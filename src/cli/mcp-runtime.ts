/**
 * What `airlock mcp-proxy` and `airlock mcp approve` run on: the control plane's store, audit log,
 * access control (Cedar, authenticator, approval gate) and a sandbox service of their own for the
 * MCP servers' sandboxes (no warm pools: every server sandbox is made for its server), plus the
 * scanner. Fails closed: a policy bundle, audit log or scanner that can't be loaded stops here.
 */
import type { Logger } from 'pino';
import type { AirlockConfig } from '../config/config.ts';
import type { Access } from '../admission/access.ts';
import type { ControllerAudit } from '../audit/open.ts';
import type { McpProxy } from '../mcp/proxy.ts';
import type { AirlockMetrics } from '../observability/metrics.ts';
import type { SandboxService } from '../sandbox/service.ts';
import type { ControlStore } from '../store/store.ts';

/** A started runtime; `close` ends every session, server sandbox and the store. */
export interface McpRuntime {
  proxy: McpProxy;
  service: SandboxService;
  access: Access;
  audit: ControllerAudit;
  store: ControlStore;
  metrics: AirlockMetrics;
  close(): Promise<void>;
}

/** Builds and starts the runtime for `config`. */
export async function startMcpRuntime(config: AirlockConfig, logger: Logger): Promise<McpRuntime> {
  const [{ AirlockMetrics }, { SandboxService }, { combineObservers, logObserver }, { openStore, storePath }, { createAccess }, { openControllerAudit }, { auditObserver }, { McpProxy }, { loadProxyScanner }] = await Promise.all([
    import('../observability/metrics.ts'),
    import('../sandbox/service.ts'),
    import('../observability/log-observer.ts'),
    import('../store/index.ts'),
    import('../admission/access.ts'),
    import('../audit/open.ts'),
    import('../audit/service-record.ts'),
    import('../mcp/proxy.ts'),
    import('../mcp/scanning.ts'),
  ]);
  // Why first: a proxy that can't scan doesn't start (fail closed), before anything is opened.
  const scanner = await loadProxyScanner(config.mcp.scan.rulesFile);
  const store = await openStore(config);
  const cleanup: (() => Promise<void>)[] = [() => store.close()];
  const unwind = async (err: unknown): Promise<never> => {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
    throw err;
  };
  const audit = await openControllerAudit(config, storePath(config), store.audit).catch(unwind);
  cleanup.push(() => audit.close());
  const access = await createAccess({ config, store, audit: audit.log }).catch(unwind);
  const metrics = new AirlockMetrics({ processMetrics: false });
  const ownerOf = (id: string) => {
    try {
      return service.ownership(id).owner;
    } catch {
      return undefined;
    }
  };
  const auditEvents = auditObserver({ audit: audit.log, ownerOf, policyHash: () => service.policyHash, onError: (err, event) => logger.error({ err, kind: event.kind }, 'audit record not written') });
  const service: SandboxService = new SandboxService({ config: { ...config, service: { ...config.service, pools: [] } }, policyBundleHash: access.engine.hash, observer: combineObservers(metrics, logObserver(logger), auditEvents) });
  await service.start().catch(unwind);
  cleanup.push(() => service.shutdown());
  const proxy = new McpProxy({
    config: config.mcp,
    stateDir: config.stateDir,
    service,
    engine: access.engine,
    settings: { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots },
    approvals: access.approvals,
    scanner,
    ttlSeconds: config.service.maxTtlSeconds,
    record: { audit: audit.log, metrics, onError: (err) => logger.error({ err }, 'MCP audit record not written') },
    log: logger,
  });
  return {
    proxy,
    service,
    access,
    audit,
    store,
    metrics,
    close: async () => {
      await proxy.close();
      for (const step of cleanup.reverse()) await step().catch((err: unknown) => logger.error({ err }, 'MCP proxy shutdown step failed'));
    },
  };
}
