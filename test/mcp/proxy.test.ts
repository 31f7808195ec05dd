/**
 * The MCP security proxy end to end: a real proxy (Streamable HTTP, the control plane's
 * authenticator, the shipped Cedar bundle, the real scanner) in front of the fixture MCP servers,
 * each running in a real airlock sandbox, driven by the official SDK client. One proxy, and one
 * client session where a case allows, for the whole file.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, McpError, ToolListChangedNotificationSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { Authenticator } from '../../src/admission/authenticate.ts';
import type { Caller } from '../../src/admission/caller.ts';
import { cedarSignerCheck } from '../../src/approvals/cedar-signer.ts';
import { StoreApprovalGate } from '../../src/approvals/gate.ts';
import { addPrincipal, signedDecision } from '../../src/approvals/test-approvals.ts';
import type { AuditEvent } from '../../src/audit/record.ts';
import type { AirlockConfig } from '../../src/config/config.ts';
import { approveServer } from '../../src/mcp/approve.ts';
import { startMcpHttp, type McpHttpServer } from '../../src/mcp/http.ts';
import { McpProxy } from '../../src/mcp/proxy.ts';
import { PeerCredentialsReader } from '../../src/host/peer-credentials.ts';
import { RequestSigner } from '../../src/signing/client.ts';
import { loadProxyScanner } from '../../src/mcp/scanning.ts';
import { UNTRUSTED_META } from '../../src/mcp/session.ts';
import { guardedFetch } from '../../src/mcp/upstream/remote-fetch.ts';
import { AirlockMetrics } from '../../src/observability/metrics.ts';
import { PolicyEngine } from '../../src/policy/engine.ts';
import { policyDirOf } from '../../src/policy/bundle-files.ts';
import { SandboxService } from '../../src/sandbox/service.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { skipReason } from '../integration/environment.ts';
import { isolatedConfig, removeIsolatedState } from '../security/lib/runtime.ts';
import { FIXTURES, fixture } from './fixtures/catalog.ts';
import { SANDBOX_NODE, sandboxedFixture } from './lib/sandboxed-fixture.ts';

const AGENT = 'agent-a';
const GROUPS = ['mcp.fs', 'mcp.rug', 'mcp.sampling', 'mcp.poisoned', 'mcp.injection', 'mcp.escape', 'mcp.escape-gvisor', 'mcp.hanging', 'mcp.flooding', 'mcp.unpinned', 'mcp.docs', 'mcp.remote', 'mcp.remote-internal'];

/** A fixture in a namespace sandbox (see lib/sandboxed-fixture.ts). */
const local = sandboxedFixture;

/** A remote MCP server (Streamable HTTP, stateless) on loopback: an internal address, as far as egress rules go. */
const remoteServer = createServer((req, res) => {
  const server = new Server({ name: 'remote', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [{ name: 'echo', description: 'Echo the text back.', inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }, annotations: { readOnlyHint: true } }] }));
  server.setRequestHandler(CallToolRequestSchema, (r) => ({ content: [{ type: 'text', text: String(r.params.arguments?.['text']) }] }));
  const transport = new StreamableHTTPServerTransport({});
  res.on('close', () => void transport.close().then(() => server.close()));
  void server.connect(transport).then(() => transport.handleRequest(req, res));
});
await new Promise<void>((resolve) => remoteServer.listen(0, '127.0.0.1', resolve));
const REMOTE_URL = `http://127.0.0.1:${(remoteServer.address() as AddressInfo).port}/mcp`;
after(() => remoteServer.close());

const base = isolatedConfig();
const gvisorSkip = skipReason(base)('gvisor');
const config: AirlockConfig = {
  ...base,
  auth: { ...base.auth, unsignedLoopback: true, unsignedLoopbackAs: { name: AGENT, role: 'agent', groups: GROUPS } },
  mcp: {
    ...base.mcp,
    servers: {
      fs: local('filesystem', { command: [SANDBOX_NODE, fixture('filesystem').file, '/tmp'] }),
      rug: local('rug-pull'),
      sampling: local('sampling'),
      poisoned: local('poisoned'),
      injection: local('injection-output'),
      escape: local('escape'),
      // The same server under the user-space kernel, where runsc works here.
      ...(gvisorSkip === false ? { 'escape-gvisor': local('escape', { runtime: 'gvisor' }) } : {}),
      hanging: local('hanging'),
      flooding: local('flooding', { limits: { outputBytes: 4 * 1024 * 1024 } }),
      // Approved, but the agent is not in its group: policy hides and refuses it.
      calc: local('calculator'),
      // Remote: allowed to an internal address explicitly, and the same URL without that.
      remote: { url: REMOTE_URL, allowPrivate: true, allowSampling: false, allowElicitation: false },
      'remote-internal': { url: REMOTE_URL, allowPrivate: false, allowSampling: false, allowElicitation: false },
      // Prompts and resources (no tools).
      docs: local('filesystem', { command: [SANDBOX_NODE, fileURLToPath(new URL('./lib/prompts-server.ts', import.meta.url))] }),
      // Never approved: its tools are blocked.
      unpinned: local('time'),
    },
    limits: { ...base.mcp.limits, callTimeoutSeconds: 3, argumentBytes: 16 * 1024, argumentDepth: 8, messageBytes: 256 * 1024 },
  },
};
const reason = skipReason(base)('namespace');

after(() => {
  const problems = removeIsolatedState(base);
  if (problems.length > 0) process.stderr.write(`mcp proxy test cleanup: ${problems.join('; ')}\n`);
});

/** The JSON-RPC error a promise rejects with. */
async function rpcError(promise: Promise<unknown>): Promise<McpError & { data: { airlock_code?: string; reason?: string; approval_id?: string } }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof McpError, `expected a JSON-RPC error, got ${String(err)}`);
    return err as McpError & { data: { airlock_code?: string } };
  }
  assert.fail('expected a JSON-RPC error, the request succeeded');
}

function textOf(result: unknown): string {
  return ((result as CallToolResult).content ?? []).map((c) => (c.type === 'text' ? c.text : '')).join('');
}

describe('MCP proxy with fixture servers in sandboxes', { skip: reason }, () => {
  const events: AuditEvent[] = [];
  const metrics = new AirlockMetrics();
  let service: SandboxService;
  let proxy: McpProxy;
  let proxyOptions: () => ConstructorParameters<typeof McpProxy>[0];
  let http: McpHttpServer;
  let store: SqliteStore;
  let approver: Awaited<ReturnType<typeof addPrincipal>>;
  let client: Client;
  const operator: Caller = { name: 'root', role: 'operator', agentId: 'root', groups: [], via: 'local-process', uid: 0 };

  const connect = async (): Promise<Client> => {
    const c = new Client({ name: 'proxy-test', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(http.url)));
    return c;
  };

  before(async () => {
    const engine = await PolicyEngine.load(policyDirOf(config.policy));
    const settings = { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots };
    store = await SqliteStore.open({ path: `${config.stateDir}/store/airlock.db` });
    await store.addPrincipal({ name: AGENT, role: 'agent', agentId: AGENT, groups: GROUPS, publicKeyPem: (await import('../../src/store/test-helpers.ts')).freshKey().pem });
    approver = await addPrincipal(store, 'bob', 'approver');
    const approvals = new StoreApprovalGate({ store, authorizeSigner: cedarSignerCheck(engine, settings, () => undefined) });
    service = new SandboxService({ config, policyBundleHash: engine.hash, observer: metrics });
    await service.start();
    const scanner = await loadProxyScanner(null);
    proxyOptions = () => ({
      config: config.mcp,
      stateDir: config.stateDir,
      service,
      engine,
      settings,
      approvals,
      scanner,
      ttlSeconds: 600,
      record: { audit: { append: async (e: AuditEvent) => void events.push(e) as never }, metrics },
      log: { warn: () => undefined, error: (o: Record<string, unknown>, m: string) => process.stderr.write(`${m} ${JSON.stringify(o)}\n`) },
    });
    proxy = new McpProxy(proxyOptions());
    await Promise.all(['remote', 'docs', 'fs', 'rug', 'sampling', 'poisoned', 'injection', 'escape', 'hanging', 'flooding', 'calc', ...(gvisorSkip === false ? ['escape-gvisor'] : [])].map((name) => approveServer(proxy, name, operator)));
    http = await startMcpHttp({ proxy, authenticator: new Authenticator({ auth: config.auth }), host: '127.0.0.1', port: 0, allowedHosts: config.service.allowedHosts, sessionIdleMs: 1500 });
    client = await connect();
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await http?.close();
    await proxy?.close();
    await service?.shutdown();
    await store?.close();
  });

  test('tools/list shows granted, pinned, unflagged tools only, and says what it held back', async () => {
    const listed = await client.listTools();
    const names = listed.tools.map((t: Tool) => t.name);
    assert.ok(names.includes('fs__read_file'), names.join(', '));
    assert.ok(names.includes('rug__get_weather'));
    // Not in the agent's groups: not shown at all.
    assert.ok(!names.some((n) => n.startsWith('calc__')), 'a server the agent is not granted is hidden');
    // … and never started on its behalf: no sandbox of it is the agent's.
    assert.deepEqual(service.list().filter((s) => s.owner === AGENT && s.metadata['airlock/mcp-server'] === 'calc'), []);
    // Poisoned definitions are blocked by the scanner; never-approved ones by the missing pin.
    assert.ok(!names.some((n) => n.startsWith('poisoned__')), 'poisoned tools are not offered');
    assert.ok(!names.some((n) => n.startsWith('unpinned__')), 'unapproved tools are not offered');
    const blocked = (listed._meta?.['airlock/blocked'] ?? []) as { name: string; code: string }[];
    assert.deepEqual(blocked.filter((b) => b.name.startsWith('poisoned__')).map((b) => b.code), ['definition_flagged', 'definition_flagged']);
    assert.ok(blocked.some((b) => b.name === 'unpinned__get_current_time' && b.code === 'definition_unpinned'));
    assert.ok(events.some((e) => e.kind === 'violation' && e.data['violation_type'] === 'mcp_definition_flagged' && (e.data['indicators'] as { server: string }).server === 'poisoned'));
  });

  test('an allowed call reaches the server; its output comes back marked untrusted, audited and counted', async () => {
    await client.callTool({ name: 'fs__write_file', arguments: { path: '/tmp/x', content: 'y' } }).catch(() => undefined);
    const result = await client.callTool({ name: 'fs__list_directory', arguments: { path: '.' } });
    assert.equal(result.isError, undefined);
    const mark = result._meta?.[UNTRUSTED_META] as { source: { server: string; name: string }; findings: unknown[] };
    assert.deepEqual(mark.source, { server: 'fs', name: 'list_directory' });
    assert.deepEqual(mark.findings, []);
    const record = events.findLast((e) => e.kind === 'mcp.call' && e.data['name'] === 'list_directory');
    assert.equal(record?.data['decision'], 'allowed');
    assert.equal(record?.agentId, AGENT);
    assert.match(String(record?.data['argument_digest']), /^sha256:[0-9a-f]{64}$/);
    assert.match(String(record?.data['output_digest']), /^sha256:[0-9a-f]{64}$/);
    assert.match(await metrics.registry.metrics(), /airlock_mcp_calls_total\{server="fs",tool="list_directory",decision="allowed"\} 1/);
  });

  test('refusals are JSON-RPC errors naming the control: policy, unknown tool, flagged, unpinned', async () => {
    const denied = await rpcError(client.callTool({ name: 'calc__calculate', arguments: { expression: '1+1' } }));
    assert.equal(denied.data.airlock_code, 'policy_denied');
    assert.match(denied.message, /mcp\.calc|default deny|group/);
    assert.equal((await rpcError(client.callTool({ name: 'fs__no_such_tool', arguments: {} }))).data.airlock_code, 'unknown_tool');
    assert.equal((await rpcError(client.callTool({ name: 'nonsense', arguments: {} }))).data.airlock_code, 'unknown_tool');
    assert.equal((await rpcError(client.callTool({ name: 'poisoned__add', arguments: { a: 1, b: 2 } }))).data.airlock_code, 'definition_flagged');
    assert.equal((await rpcError(client.callTool({ name: 'unpinned__get_current_time', arguments: { timezone: 'UTC' } }))).data.airlock_code, 'definition_unpinned');
    assert.ok(events.some((e) => e.kind === 'mcp.call' && e.data['code'] === 'policy_denied' && e.data['decision'] === 'refused'));
  });

  test('arguments are validated against the pinned schema, with size and depth limits', async () => {
    const wrongType = await rpcError(client.callTool({ name: 'fs__read_file', arguments: { path: 5 } }));
    assert.equal(wrongType.data.airlock_code, 'invalid_arguments');
    assert.match(wrongType.message, /arguments\/path must be string/);
    assert.equal((await rpcError(client.callTool({ name: 'fs__read_file', arguments: { path: 'a', extra: true } }))).data.airlock_code, 'invalid_arguments');
    assert.equal((await rpcError(client.callTool({ name: 'fs__read_file', arguments: {} }))).data.airlock_code, 'invalid_arguments');
    assert.equal((await rpcError(client.callTool({ name: 'fs__read_file', arguments: { path: 'x'.repeat(20_000) } }))).data.airlock_code, 'arguments_too_large');
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 12; i++) deep = { d: deep };
    assert.equal((await rpcError(client.callTool({ name: 'fs__read_file', arguments: { path: 'a', deep } }))).data.airlock_code, 'arguments_too_large');
  });

  test('a destructive tool needs a signed approval of its exact arguments, consumed once', async () => {
    const args = { path: '/tmp/approved.txt', content: 'hello' };
    const first = await rpcError(client.callTool({ name: 'fs__write_file', arguments: args }));
    assert.equal(first.data.airlock_code, 'approval_required');
    const id = String(first.data.approval_id);
    const digest = String((first.data as { action_digest?: string }).action_digest);
    // Retried before anyone decided: still refused, nothing written.
    assert.equal((await rpcError(client.callTool({ name: 'fs__write_file', arguments: args, _meta: { 'airlock/approval': id } }))).data.airlock_code, 'approval_refused');
    const agentCaller: Caller = { name: AGENT, role: 'agent', agentId: AGENT, groups: GROUPS, via: 'unsigned-loopback' };
    await proxy.context.approvals.decide({ approvalId: id, decision: signedDecision(approver, id, digest, 'approve', Date.now()), submitter: agentCaller });
    // Other arguments under the same approval: refused, and the approval is not used up.
    const changed = await rpcError(client.callTool({ name: 'fs__write_file', arguments: { ...args, content: 'other' }, _meta: { 'airlock/approval': id } }));
    assert.equal(changed.data.airlock_code, 'approval_refused');
    assert.match(changed.message, /differs/);
    const approved = await client.callTool({ name: 'fs__write_file', arguments: args, _meta: { 'airlock/approval': id } });
    assert.match(textOf(approved), /Wrote/);
    const again = await rpcError(client.callTool({ name: 'fs__write_file', arguments: args, _meta: { 'airlock/approval': id } }));
    assert.equal(again.data.airlock_code, 'approval_refused');
    assert.match(again.message, /already|consumed|used/);
    const read = await client.callTool({ name: 'fs__read_file', arguments: { path: '/tmp/approved.txt' } });
    assert.equal(textOf(read), 'hello');
  });

  test('a rug pull is blocked after approval: the changed definition is refused and recorded', async () => {
    let changed = false;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changed = true;
    });
    const before = await client.callTool({ name: 'rug__get_weather', arguments: { city: 'Oslo' } });
    assert.match(textOf(before), /Weather in Oslo/);
    // The server has now changed its description and said so with list_changed: the client is told to list again.
    for (let i = 0; i < 50 && !changed; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(changed, 'the client got notifications/tools/list_changed');
    const relisted = await client.listTools();
    assert.ok(!relisted.tools.some((t: Tool) => t.name === 'rug__get_weather'), 'the changed tool is no longer offered');
    const blocked = (relisted._meta?.['airlock/blocked'] ?? []) as { name: string; code: string }[];
    assert.ok(blocked.some((b) => b.name === 'rug__get_weather' && b.code === 'definition_changed'));
    assert.equal((await rpcError(client.callTool({ name: 'rug__get_weather', arguments: { city: 'Oslo' } }))).data.airlock_code, 'definition_changed');
    assert.ok(events.some((e) => e.kind === 'violation' && e.data['violation_type'] === 'mcp_definition_changed' && e.data['detection_layer'] === 'MCP'));
  });

  test('output carrying an injection and credentials is flagged and redacted', async () => {
    const result = await client.callTool({ name: 'injection__get_issue', arguments: { number: 7 } });
    const mark = result._meta?.[UNTRUSTED_META] as { findings: { rule: string; severity: string }[] };
    assert.ok(mark.findings.some((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL'), JSON.stringify(mark.findings));
    assert.doesNotMatch(JSON.stringify(result.content), /AKIA[0-9A-Z]{16}/, 'an AWS key id is redacted');
    const record = events.findLast((e) => e.kind === 'mcp.call' && e.data['name'] === 'get_issue');
    assert.ok((record?.data['output_findings'] as string[]).length > 0);
  });

  test('sampling requested by a server is refused and recorded', async () => {
    const result = await client.callTool({ name: 'sampling__summarize', arguments: { text: 'quarterly numbers' } });
    assert.match(textOf(result), /"sampling":"refused"/);
    assert.ok(events.some((e) => e.kind === 'violation' && e.data['violation_type'] === 'mcp_server_request_refused' && (e.data['indicators'] as { method: string }).method === 'sampling/createMessage'));
  });

  for (const server of ['escape', 'escape-gvisor']) {
    test(`a server that tries to leave its sandbox is contained (${server})`, { skip: server === 'escape-gvisor' ? gvisorSkip : false }, async () => {
      await assertContained(`${server}__system_diagnostics`);
    });
  }

  const assertContained = async (tool: string) => {
    const result = await client.callTool({ name: tool, arguments: {} });
    const { attempts } = JSON.parse(textOf(result)) as { attempts: { attempt: string; succeeded: boolean; detail: string }[] };
    const by = (name: string) => attempts.find((a) => a.attempt === name);
    assert.match(by('context')?.detail ?? '', /Uid:\s+65534/);
    assert.match(by('context')?.detail ?? '', /CapEff:\s+0+;/);
    for (const name of ['read /etc/shadow', 'write outside scratch: /', 'write outside scratch: /etc', 'raw socket (AF_INET/SOCK_RAW/ICMP)', 'packet socket (AF_PACKET/SOCK_RAW)', 'TCP to 1.1.1.1:443', 'TCP to cloud metadata 169.254.169.254:80']) {
      assert.equal(by(name)?.succeeded, false, `${name}: ${by(name)?.detail ?? 'not attempted'}`);
    }
  };

  test('signed requests: the agent is known by its key, its session is its own, unsigned is refused', async () => {
    const signedHttp = await startMcpHttp({ proxy, authenticator: new Authenticator({ auth: { ...config.auth, unsignedLoopback: false }, store }), host: '127.0.0.1', port: 0, allowedHosts: config.service.allowedHosts, sessionIdleMs: 60_000 });
    const b = await addPrincipal(store, 'agent-b', 'agent', 'agent-b', ['mcp.fs']);
    const c = await addPrincipal(store, 'agent-c', 'agent', 'agent-c', ['mcp.fs']);
    // Every request signed afresh (RFC 9421: method, target URI, content digest; a new nonce each).
    const signing = (who: typeof b): typeof fetch => async (url, init) => {
      const signer = new RequestSigner(who.privateKey);
      const body = typeof init?.body === 'string' ? init.body : undefined;
      const headers = new Headers(init?.headers);
      for (const [k, v] of Object.entries(signer.headers({ method: init?.method ?? 'GET', url: String(url), body }))) headers.set(k, String(v));
      return fetch(url, { ...init, headers });
    };
    try {
      const transport = new StreamableHTTPClientTransport(new URL(signedHttp.url), { fetch: signing(b) });
      const asB = new Client({ name: 'agent-b', version: '1' });
      await asB.connect(transport);
      const names = (await asB.listTools()).tools.map((t: Tool) => t.name);
      assert.ok(names.includes('fs__read_file') && !names.some((n) => n.startsWith('rug__')), names.join(', '));
      await asB.callTool({ name: 'fs__list_directory', arguments: { path: '.' } });
      // Only the server agent-b is granted was started for it.
      assert.deepEqual(service.list().filter((s) => s.owner === 'agent-b').map((s) => s.metadata['airlock/mcp-server']), ['fs']);
      const record = events.findLast((e) => e.kind === 'mcp.call' && e.actor?.name === 'agent-b');
      assert.equal(record?.agentId, 'agent-b');
      // Another agent, signing correctly, presenting agent-b's session id: refused.
      const hijack = await signing(c)(signedHttp.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': String(transport.sessionId), 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list', params: {} }) });
      assert.equal(hijack.status, 403);
      assert.equal(((await hijack.json()) as { error: { data: { airlock_code: string } } }).error.data.airlock_code, 'session_mismatch');
      const unsigned = await fetch(signedHttp.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }) });
      assert.equal(unsigned.status, 401);
      await transport.terminateSession();
      await asB.close();
    } finally {
      await signedHttp.close();
    }
  });

  test('the benign servers pass untouched: nothing blocked, no output flagged at the threshold', async (t) => {
    const benign = FIXTURES.filter((f) => f.kind === 'benign');
    const benignProxy = new McpProxy({ ...proxyOptions(), config: { ...config.mcp, servers: Object.fromEntries(benign.map((f) => [f.name, local(f.name)])) } });
    const caller: Caller = { name: 'agent-benign', role: 'agent', agentId: 'agent-benign', groups: benign.map((f) => `mcp.${f.name}`), via: 'local-process' };
    try {
      await Promise.all(benign.map((f) => approveServer(benignProxy, f.name, operator)));
      const session = benignProxy.openSession(caller);
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await session.server.connect(serverSide);
      const c = new Client({ name: 'benign', version: '1' });
      await c.connect(clientSide);
      const listed = await c.listTools();
      const blocked = (listed._meta?.['airlock/blocked'] ?? []) as { name: string; reason: string }[];
      const unavailable = (listed._meta?.['airlock/unavailable'] ?? []) as unknown[];
      let flaggedOutputs = 0;
      let calls = 0;
      for (const f of benign) {
        for (const probe of f.cleanCalls ?? []) {
          const call = { name: `${f.name}__${probe.tool}`, arguments: probe.arguments };
          // A destructive tool (send_email, create_entities) asks for approval first: given, as a human would.
          const result = await c.callTool(call).catch(async (err: unknown) => {
            const data = (err as McpError & { data: { airlock_code?: string; approval_id?: string; action_digest?: string } }).data;
            if (data.airlock_code !== 'approval_required') throw err;
            const id = String(data.approval_id);
            await benignProxy.context.approvals.decide({ approvalId: id, decision: signedDecision(approver, id, String(data.action_digest), 'approve', Date.now()), submitter: caller });
            return c.callTool({ ...call, _meta: { 'airlock/approval': id } });
          });
          calls += 1;
          const findings = (result._meta?.[UNTRUSTED_META] as { findings: { severity: string }[] }).findings;
          if (findings.some((x) => x.severity === 'HIGH' || x.severity === 'CRITICAL')) flaggedOutputs += 1;
        }
      }
      t.diagnostic(`benign set: ${benign.length} servers, ${listed.tools.length} tools listed, ${blocked.length} blocked (false positives), ${calls} clean calls, ${flaggedOutputs} outputs flagged at HIGH or above`);
      assert.deepEqual(unavailable, []);
      assert.deepEqual(blocked, [], 'no benign tool is blocked');
      assert.equal(flaggedOutputs, 0);
      assert.ok(listed.tools.length >= 20, `${listed.tools.length} tools`);
      await c.close();
    } finally {
      await benignProxy.close();
    }
  });

  test('on the unix socket the caller is known by its uid (root: the operator)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-mcp-sock-'));
    const path = join(dir, 'mcp.sock');
    const onSocket = await startMcpHttp({ proxy, authenticator: new Authenticator({ auth: config.auth }), host: '127.0.0.1', port: 0, allowedHosts: config.service.allowedHosts, sessionIdleMs: 60_000, socket: { path, peers: await PeerCredentialsReader.create(config) } });
    // One JSON-RPC message over the socket; the answer is read from its SSE or JSON body.
    const send = (message: unknown, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; session: string | undefined; body: { result?: { tools?: Tool[] } } }>((resolve, reject) => {
        const req = httpRequest({ socketPath: path, path: '/mcp', method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => {
            const data = text.split('\n').find((l) => l.startsWith('data: '))?.slice(6) ?? text;
            try {
              resolve({ status: res.statusCode ?? 0, session: res.headers['mcp-session-id'] as string | undefined, body: (data === '' ? {} : JSON.parse(data)) as { result?: { tools?: Tool[] } } });
            } catch (err) {
              reject(err as Error);
            }
          });
        });
        req.once('error', reject);
        req.end(JSON.stringify(message));
      });
    try {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const init = await send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sock', version: '1' } } });
      assert.equal(init.status, 200);
      const headers = { 'mcp-session-id': String(init.session), 'mcp-protocol-version': '2025-06-18' };
      await send({ jsonrpc: '2.0', method: 'notifications/initialized' }, headers).catch(() => undefined);
      const listed = await send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, headers);
      // The operator may use every approved server, calc included (agent-a may not).
      assert.ok(listed.body.result?.tools?.some((t) => t.name === 'calc__calculate'), JSON.stringify(listed.body).slice(0, 300));
    } finally {
      await onSocket.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('prompts and resources: granted ones listed, their content scanned, redacted and marked untrusted', async () => {
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
    assert.deepEqual(prompts, ['docs__review', 'docs__summarize']);
    const clean = await client.getPrompt({ name: 'docs__review' });
    assert.deepEqual((clean._meta?.[UNTRUSTED_META] as { findings: unknown[] }).findings, []);
    const injected = await client.getPrompt({ name: 'docs__summarize' });
    const findings = (injected._meta?.[UNTRUSTED_META] as { source: unknown; findings: { severity: string }[] });
    assert.deepEqual(findings.source, { server: 'docs', name: 'summarize' });
    assert.ok(findings.findings.some((f) => f.severity === 'HIGH' || f.severity === 'CRITICAL'), JSON.stringify(findings.findings));
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    assert.deepEqual(resources, ['notes://today']);
    const read = await client.readResource({ uri: 'notes://today' });
    assert.doesNotMatch(JSON.stringify(read.contents), /AKIA[0-9A-Z]{16}/, 'the key id is redacted');
    assert.match(JSON.stringify(read.contents), /Deploy notes/);
    assert.equal((await rpcError(client.readResource({ uri: 'file:///etc/passwd' }))).data.airlock_code, 'unknown_tool');
    assert.equal((await rpcError(client.getPrompt({ name: 'calc__anything' }))).data.airlock_code, 'policy_denied');
    assert.ok(events.some((e) => e.kind === 'mcp.call' && e.data['method'] === 'resources/read' && e.data['decision'] === 'allowed'));
  });

  test('a remote server is reached under the egress rules: an internal address only where allowed', async () => {
    const listed = await client.listTools();
    assert.ok(listed.tools.some((t: Tool) => t.name === 'remote__echo'));
    assert.equal(textOf(await client.callTool({ name: 'remote__echo', arguments: { text: 'over http' } })), 'over http');
    const unavailable = (listed._meta?.['airlock/unavailable'] ?? []) as { server: string; reason: string }[];
    const internal = unavailable.find((u) => u.server === 'remote-internal');
    assert.match(internal?.reason ?? '', /resolves to 127\.0\.0\.1 \(loopback\w*\)/);
    // Cloud metadata is never reached, allowPrivate or not.
    await assert.rejects(guardedFetch(true)('http://169.254.169.254/latest/meta-data/'), /cloud_metadata/);
  });

  test('bad input: malformed JSON, an oversized message, an unknown method; the proxy stays up', async () => {
    const post = (body: string) => fetch(http.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body });
    const malformed = await post('{"jsonrpc":"2.0",');
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: number } }).error.code, -32700);
    const oversized = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { pad: 'x'.repeat(300 * 1024) } }));
    assert.equal(oversized.status, 413);
    const unknown = await rpcError(client.request({ method: 'no/such/method', params: {} }, (await import('@modelcontextprotocol/sdk/types.js')).EmptyResultSchema));
    assert.equal(unknown.code, -32601);
    assert.ok((await client.listTools()).tools.length > 0, 'the proxy still answers');
  });

  test('a hanging server times out; a flooding one is ended; the proxy stays up', async () => {
    const hung = await rpcError(client.callTool({ name: 'hanging__wait', arguments: { job: 'j1' } }));
    assert.equal(hung.data.airlock_code, 'call_timeout');
    const flood = await rpcError(client.callTool({ name: 'flooding__flood', arguments: { mode: 'result', bytes: 8 * 1024 * 1024 } }));
    assert.equal(flood.data.airlock_code, 'server_unavailable');
    assert.ok((await client.callTool({ name: 'fs__list_directory', arguments: { path: '.' } })).content, 'other servers still answer');
  });

  test('a client that disconnects mid-call: the proxy stays up and the session\'s sandboxes end with it', async () => {
    const ids = () => new Set(service.list().map((s) => s.sandbox_id));
    const earlier = ids();
    const other = await connect();
    const listed = await other.listTools();
    const its = [...ids()].filter((id) => !earlier.has(id));
    assert.ok(its.length >= 8, `the second session started its own sandboxes (${its.length}; unavailable: ${JSON.stringify(listed._meta?.['airlock/unavailable'])})`);
    const pending = other.callTool({ name: 'hanging__wait', arguments: { job: 'j2' } }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await other.close();
    await pending;
    // Its streams closed: once idle its session ends, and so does every sandbox it started.
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && proxy.sessionCount > 1) await new Promise((r) => setTimeout(r, 100));
    assert.equal(proxy.sessionCount, 1, 'only the main session is left');
    const ended = Date.now() + 10_000;
    while (Date.now() < ended && its.some((id) => service.get(id).state === 'running')) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(its.filter((id) => service.get(id).state === 'running'), [], 'every sandbox of the gone session ended');
    assert.ok((await client.listTools()).tools.length > 0, 'the proxy still answers');
  });
});
