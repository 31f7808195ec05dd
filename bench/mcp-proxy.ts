/**
 * What the MCP proxy adds to a tools/call: the same call (the calculator fixture's `calculate`, a
 * server already running in a namespace sandbox, spoken to over its stdio through the sandbox
 * agent) made directly by an SDK client, and through a proxy session (Cedar, pin check, ajv
 * validation, output scan and redaction, the audit record in a real SQLite log, metrics) whose
 * client side is an in-memory transport, so the difference is the proxy's own work. Calls
 * alternate (direct, proxied) so drift hits both. The proxied call over the proxy's Streamable
 * HTTP listener is measured too (that adds HTTP and SSE framing on loopback).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { UNAVAILABLE_APPROVALS } from '../src/admission/access.ts';
import { Authenticator } from '../src/admission/authenticate.ts';
import type { Caller } from '../src/admission/caller.ts';
import { openControllerAudit } from '../src/audit/open.ts';
import type { AirlockConfig } from '../src/config/config.ts';
import type { McpLocalServer } from '../src/config/mcp-config.ts';
import { approveServer } from '../src/mcp/approve.ts';
import { startMcpHttp } from '../src/mcp/http.ts';
import { McpProxy } from '../src/mcp/proxy.ts';
import { loadProxyScanner } from '../src/mcp/scanning.ts';
import { connectUpstream } from '../src/mcp/upstream/connect.ts';
import { AirlockMetrics } from '../src/observability/metrics.ts';
import { policyDirOf } from '../src/policy/bundle-files.ts';
import { PolicyEngine } from '../src/policy/engine.ts';
import { SandboxService } from '../src/sandbox/service.ts';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.ts';
import { sandboxedFixture } from '../test/mcp/lib/sandboxed-fixture.ts';
import { summarize, type Summary } from './stats.ts';

export interface McpProxyBench {
  n: number;
  /** Direct SDK client → server (stdio in its sandbox). */
  direct: Summary;
  /** SDK client → proxy session (in memory) → server (stdio in its sandbox). */
  proxied: Summary;
  /** proxied − direct, pair by pair. */
  added: Summary;
  /** SDK client → proxy over Streamable HTTP on loopback → server. */
  http: Summary;
}

/** `n` alternating direct and proxied calls after a warm-up of 20 each, then `n` over HTTP. */
export async function benchMcpProxy(base: AirlockConfig, n: number): Promise<McpProxyBench> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-mcp-'));
  const caller: Caller = { name: 'bench-agent', role: 'agent', agentId: 'bench-agent', groups: ['mcp.calc'], via: 'unsigned-loopback' };
  const config: AirlockConfig = {
    ...base,
    service: { ...base.service, pools: [] },
    auth: { ...base.auth, unsignedLoopback: true, unsignedLoopbackAs: { name: caller.name, role: 'agent', groups: [...caller.groups] } },
    mcp: { ...base.mcp, servers: { calc: sandboxedFixture('calculator') } },
  };
  const engine = await PolicyEngine.load(policyDirOf(config.policy));
  const store = await SqliteStore.open({ path: join(dir, 'store', 'airlock.db') });
  const audit = await openControllerAudit(config, join(dir, 'store', 'airlock.db'), store.audit);
  const service = new SandboxService({ config, policyBundleHash: engine.hash });
  await service.start();
  const proxy = new McpProxy({
    config: config.mcp,
    stateDir: dir,
    service,
    engine,
    settings: { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots },
    approvals: UNAVAILABLE_APPROVALS,
    scanner: await loadProxyScanner(null),
    ttlSeconds: 600,
    record: { audit: audit.log, metrics: new AirlockMetrics() },
    log: { warn: () => undefined, error: (o, m) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`) },
  });
  try {
    await approveServer(proxy, 'calc', { ...caller, name: 'bench-operator', role: 'operator' });
    const direct = await connectUpstream({
      name: 'calc', server: config.mcp.servers['calc'] as McpLocalServer, service, owner: caller.agentId, ttlSeconds: 600, maxMessageBytes: 4 * 1024 * 1024, startTimeoutMs: 30_000,
      onServerRequest: async () => ({}),
    });
    const session = proxy.openSession(caller);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await session.server.connect(serverSide);
    const viaProxy = new Client({ name: 'bench', version: '1' });
    await viaProxy.connect(clientSide);
    await viaProxy.listTools();
    const call = { name: 'calculate', arguments: { expression: 'sqrt(2) * 3 ^ 2' } };
    const time = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };
    const once = { direct: () => direct.client.callTool(call), proxied: () => viaProxy.callTool({ ...call, name: 'calc__calculate' }) };
    for (let i = 0; i < 20; i++) {
      await once.direct();
      await once.proxied();
    }
    const d: number[] = [];
    const p: number[] = [];
    for (let i = 0; i < n; i++) {
      d.push(await time(once.direct));
      p.push(await time(once.proxied));
    }
    await viaProxy.close();
    await direct.close();
    const http = await startMcpHttp({ proxy, authenticator: new Authenticator({ auth: config.auth }), host: '127.0.0.1', port: 0, allowedHosts: config.service.allowedHosts, sessionIdleMs: 60_000 });
    const overHttp = new Client({ name: 'bench-http', version: '1' });
    await overHttp.connect(new StreamableHTTPClientTransport(new URL(http.url)));
    await overHttp.listTools();
    for (let i = 0; i < 20; i++) await overHttp.callTool({ ...call, name: 'calc__calculate' });
    const h: number[] = [];
    for (let i = 0; i < n; i++) h.push(await time(() => overHttp.callTool({ ...call, name: 'calc__calculate' })));
    await overHttp.close();
    await http.close();
    return { n, direct: summarize(d), proxied: summarize(p), added: summarize(p.map((x, i) => x - (d[i] as number))), http: summarize(h) };
  } finally {
    await proxy.close();
    await service.shutdown();
    await audit.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The report lines. */
export function mcpProxyLines(b: McpProxyBench): string[] {
  const f = (x: number) => x.toFixed(2);
  const s = (x: Summary) => `p50 ${f(x.p50)} / p95 ${f(x.p95)} ms`;
  return [
    `MCP proxy, tools/call of a running server (calculator fixture, namespace sandbox, stdio), n ${b.n}, scanning on, audit in SQLite: direct ${s(b.direct)}; through a proxy session ${s(b.proxied)}; added per pair ${s(b.added)}; through the proxy's Streamable HTTP listener on loopback ${s(b.http)}`,
  ];
}
