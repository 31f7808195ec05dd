/**
 * One client session of the MCP proxy: an MCP server (the SDK's low-level Server) facing the
 * client, in front of the configured servers, each reached through its own upstream connection
 * (a sandbox per session, or the shared one). Every request is decided here, server side:
 *
 * - tools/list shows only tools that are pinned, unflagged and not denied by policy;
 * - tools/call: known tool → pinned and unflagged → Cedar → arguments (size, depth, pinned schema)
 *   → approval when policy needs one → the server → output scanned, redacted, marked untrusted;
 * - prompts/get and resources/read: Cedar, then the output scanned and marked the same way;
 * - requests the server sends the client (sampling, elicitation, roots) are refused unless allowed.
 *
 * A refused request never reaches the server; every request is recorded (audit, metrics).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  CallToolResultSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListPromptsResultSchema,
  ListResourcesRequestSchema,
  ListResourcesResultSchema,
  ListToolsRequestSchema,
  ListToolsResultSchema,
  McpError,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  type CallToolResult,
  type JSONRPCRequest,
  type Prompt,
  type Resource,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from '../admission/caller.ts';
import { isLocalServer } from '../config/mcp-config.ts';
import type { PolicyDecision } from '../policy/engine.ts';
import type { McpAction } from '../policy/request.ts';
import { canonicalDigest } from '../signing/canonical-json.ts';
import { decide, type ProxyContext } from './context.ts';
import { requireApproval } from './approval.ts';
import { McpRefusal } from './refusal.ts';
import type { McpDecision } from './record.ts';
import { highestSeverity } from './scanning.ts';
import { proxiedName, scannedDefinition, splitName, toolViews, type ToolView } from './tool-views.ts';
import { connectUpstream, type Upstream } from './upstream/connect.ts';

/** Where the proxy marks content that came from a server: data to show, never instructions to follow. */
export const UNTRUSTED_META = 'airlock/untrusted';
/** Where a client attaches the approval id of an approved call (`params._meta`). */
export const APPROVAL_META = 'airlock/approval';
/** Most pages of a list read from one server. */
const MAX_PAGES = 20;

/** A client session. */
export class ProxySession {
  readonly server: Server;
  readonly caller: Caller;
  readonly #context: ProxyContext;
  /** This session's own connections, by server name. */
  readonly #upstreams = new Map<string, Promise<Upstream>>();
  /** The last tools/list of each server, by tool name. */
  readonly #tools = new Map<string, Map<string, ToolView>>();
  /** Resource URI → the server that listed it. */
  readonly #resources = new Map<string, string>();
  #closed = false;

  constructor(caller: Caller, context: ProxyContext) {
    this.caller = caller;
    this.#context = context;
    this.server = new Server({ name: 'airlock-mcp-proxy', version: '1.0.0' }, { capabilities: { tools: { listChanged: true }, prompts: {}, resources: {} } });
    this.server.setRequestHandler(ListToolsRequestSchema, () => this.#listTools());
    this.server.setRequestHandler(CallToolRequestSchema, (request, extra) => this.#callTool(request.params, extra.signal));
    this.server.setRequestHandler(ListPromptsRequestSchema, () => this.#listPrompts());
    this.server.setRequestHandler(GetPromptRequestSchema, (request, extra) => this.#getPrompt(request.params, extra.signal));
    this.server.setRequestHandler(ListResourcesRequestSchema, () => this.#listResources());
    this.server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => this.#readResource(request.params, extra.signal));
  }

  /**
   * The servers this caller may reach: policy is asked about each server itself (kind `server`)
   * first. Why: a server the caller may use nothing of is never started on its behalf.
   */
  get #servers(): string[] {
    return Object.keys(this.#context.config.servers)
      .filter((server) => this.#serverDecision(server).decision !== 'deny')
      .sort();
  }

  #serverDecision(server: string): PolicyDecision {
    return decide(this.#context, this.caller, 'mcp.call', { server, name: '*', kind: 'server', destructive: false, readOnly: true });
  }

  /** Ends this session's own server connections (and their sandboxes); shared ones stay. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const own = [...this.#upstreams.values()];
    this.#upstreams.clear();
    await Promise.all(own.map((p) => p.then((u) => u.close(), () => undefined)));
    await this.server.close().catch(() => undefined);
  }

  // ---- upstream connections

  #upstream(name: string): Promise<Upstream> {
    const server = this.#context.config.servers[name];
    if (server === undefined) return Promise.reject(new McpRefusal('unknown_server', `no server named ${JSON.stringify(name)}`));
    if (this.#closed) return Promise.reject(new McpRefusal('server_unavailable', 'the session has ended'));
    const reach = this.#serverDecision(name);
    if (reach.decision === 'deny') return Promise.reject(new McpRefusal('policy_denied', reach.reasons.join('; '), { policy_ids: reach.policyIds }));
    if (isLocalServer(server) && server.share) return this.#context.sharedUpstream(name);
    let pending = this.#upstreams.get(name);
    if (pending === undefined) {
      pending = connectUpstream({
        name,
        server,
        service: this.#context.service,
        owner: this.caller.agentId,
        ttlSeconds: this.#context.ttlSeconds,
        maxMessageBytes: this.#context.config.limits.messageBytes * 4,
        startTimeoutMs: this.#context.config.limits.startTimeoutSeconds * 1000,
        onServerRequest: (request) => this.#serverRequest(name, request),
        onStderr: (chunk) => this.#context.log.warn({ server: name, agent_id: this.caller.agentId, stderr: chunk.toString('utf8', 0, 2048) }, 'MCP server stderr'),
        // The client is told to list again; the new definitions are checked against the pins then.
        onToolsChanged: () => void this.server.sendToolListChanged().catch(() => undefined),
      });
      const started = pending;
      this.#upstreams.set(name, started);
      // A server that failed or ended is connected again on the next request, never reused.
      const forget = () => {
        if (this.#upstreams.get(name) === started) this.#upstreams.delete(name);
      };
      started.then((u) => u.ended.then((why) => {
        forget();
        this.#tools.delete(name);
        this.#context.log.warn({ server: name, agent_id: this.caller.agentId, why }, 'MCP server connection ended');
      }), forget);
    }
    return pending;
  }

  /** A request the server sent the client: forwarded only where the configuration allows it. */
  async #serverRequest(name: string, request: JSONRPCRequest): Promise<Record<string, unknown>> {
    const server = this.#context.config.servers[name];
    const allowed = server !== undefined && ((request.method === 'sampling/createMessage' && server.allowSampling) || (request.method === 'elicitation/create' && server.allowElicitation));
    const started = performance.now();
    if (!allowed) {
      const reason = `${name} asked the client for ${request.method}, which its configuration does not allow (allowSampling / allowElicitation)`;
      // Why a violation: an unrequested sampling call is how a server hijacks the conversation.
      await this.#context.recorder.violation(this.caller, 'mcp_server_request_refused', request.method === 'roots/list' ? 'LOW' : 'HIGH', reason, { server: name, method: request.method }, 'Allow sampling or elicitation for this server only if it needs them and is trusted.');
      this.#record({ server: name, method: request.method, name: null, argumentDigest: null, decision: 'refused', code: 'sampling_refused', reason, started, policyIds: [] });
      throw new McpRefusal('sampling_refused', reason);
    }
    const schema = request.method === 'sampling/createMessage' ? CreateMessageResultSchema : ElicitResultSchema;
    const result = await this.server.request({ method: request.method, params: request.params } as never, schema);
    this.#record({ server: name, method: request.method, name: null, argumentDigest: null, decision: 'allowed', code: null, reason: null, started, policyIds: [] });
    return result as Record<string, unknown>;
  }

  // ---- tools

  /** Lists `name`'s tools and builds their views (others' last lists for shadowing); records what is newly blocked. */
  async #refreshTools(name: string): Promise<Map<string, ToolView>> {
    const upstream = await this.#upstream(name);
    upstream.touch();
    const tools: Tool[] = [];
    let cursor: string | undefined;
    // A server without tools (prompts or resources only) lists none.
    for (let page = 0; page < MAX_PAGES && upstream.client.getServerCapabilities()?.tools !== undefined; page++) {
      const result = await upstream.client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema, this.#requestOptions());
      tools.push(...result.tools);
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
    const others = [...this.#tools.entries()].filter(([server]) => server !== name).flatMap(([server, views]) => [...views.values()].map((v) => scannedDefinition(server, v.tool)));
    const pins = await this.#context.pins.read();
    const views = toolViews(name, tools, pins, this.#context.scanner, others, this.#context.config.scan.blockSeverity);
    this.#tools.set(name, new Map(views.map((v) => [v.tool.name, v])));
    for (const view of views) if (view.blocked !== undefined && view.blocked.code !== 'definition_unpinned') await this.#reportBlocked(view);
    return this.#tools.get(name) as Map<string, ToolView>;
  }

  async #reportBlocked(view: ToolView): Promise<void> {
    const blocked = view.blocked;
    if (blocked === undefined || !this.#context.firstReport(`${view.server}\0${view.tool.name}\0${view.digest}`)) return;
    const changed = blocked.code === 'definition_changed';
    const severity = changed ? 'HIGH' : (highestSeverity(view.findings) ?? 'HIGH');
    await this.#context.recorder.violation(
      this.caller,
      changed ? 'mcp_definition_changed' : 'mcp_definition_flagged',
      severity,
      changed ? `the definition of ${view.server}/${view.tool.name} changed since it was approved (a rug pull?); the tool is blocked` : `the scanner flagged the definition of ${view.server}/${view.tool.name}; the tool is blocked`,
      { server: view.server, tool: view.tool.name, digest: view.digest, findings: view.findings.map((f) => ({ rule: f.rule, severity: f.severity, where: f.where })) },
      changed ? `Review the new definition, then re-approve it: airlock mcp approve ${view.server}` : 'Review the definition; remove or fix the tool on its server.',
    );
  }

  async #listTools(): Promise<{ tools: Tool[]; _meta: Record<string, unknown> }> {
    const servers = this.#servers;
    const settled = await Promise.allSettled(servers.map((s) => this.#refreshTools(s)));
    // Scanned again with every server's list at hand: shadowing is only visible across servers.
    await Promise.allSettled(servers.filter((_, i) => settled[i]?.status === 'fulfilled').map((s) => this.#rescan(s)));
    const tools: Tool[] = [];
    const blocked: { name: string; code: string; reason: string }[] = [];
    const unavailable: { server: string; reason: string }[] = [];
    servers.forEach((server, i) => {
      const outcome = settled[i];
      if (outcome?.status === 'rejected') {
        unavailable.push({ server, reason: (outcome.reason as Error).message });
        return;
      }
      for (const view of this.#tools.get(server)?.values() ?? []) {
        const name = proxiedName(server, view.tool.name);
        if (view.blocked !== undefined) blocked.push({ name, code: view.blocked.code, reason: view.blocked.reason });
        // Why filtered here: a tool the agent may not call is not shown to it at all.
        else if (decide(this.#context, this.caller, 'mcp.call', view.item).decision !== 'deny') tools.push({ ...view.tool, name });
      }
    });
    return { tools, _meta: { 'airlock/blocked': blocked, 'airlock/unavailable': unavailable } };
  }

  /** Rebuilds `name`'s views against every other server's current list (no new request to it). */
  async #rescan(name: string): Promise<void> {
    const current = this.#tools.get(name);
    if (current === undefined) return;
    const others = [...this.#tools.entries()].filter(([server]) => server !== name).flatMap(([server, views]) => [...views.values()].map((v) => scannedDefinition(server, v.tool)));
    const pins = await this.#context.pins.read();
    const views = toolViews(name, [...current.values()].map((v) => v.tool), pins, this.#context.scanner, others, this.#context.config.scan.blockSeverity);
    this.#tools.set(name, new Map(views.map((v) => [v.tool.name, v])));
    for (const view of views) if (view.blocked !== undefined && view.blocked.code !== 'definition_unpinned') await this.#reportBlocked(view);
  }

  async #callTool(params: { name: string; arguments?: Record<string, unknown> | undefined; _meta?: Record<string, unknown> | undefined }, signal: AbortSignal): Promise<CallToolResult> {
    const started = performance.now();
    const split = splitName(params.name);
    const server = split?.server ?? 'unknown';
    let view: ToolView | undefined;
    let argumentDigest: string | null = null;
    let policyIds: readonly string[] = [];
    try {
      if (split === undefined || this.#context.config.servers[split.server] === undefined) throw new McpRefusal('unknown_tool', `no tool named ${JSON.stringify(params.name)} (tools are listed as <server>__<tool>)`);
      view = this.#tools.get(split.server)?.get(split.tool) ?? (await this.#refreshTools(split.server)).get(split.tool);
      if (view === undefined) throw new McpRefusal('unknown_tool', `${split.server} has no tool ${JSON.stringify(split.tool)}`);
      if (view.blocked !== undefined) throw new McpRefusal(view.blocked.code, view.blocked.reason);
      const decision = decide(this.#context, this.caller, 'mcp.call', view.item);
      policyIds = decision.policyIds;
      if (decision.decision === 'deny') throw new McpRefusal('policy_denied', decision.reasons.join('; '), { policy_ids: decision.policyIds });
      // Why before the approval: an approver is never asked about a call that can't run.
      const args = this.#context.validator.check(params.arguments, view.tool.inputSchema, view.digest);
      argumentDigest = canonicalDigest(args);
      if (decision.decision === 'approval') await requireApproval(this.#context, this.caller, view, args, params._meta?.[APPROVAL_META], decision);
      this.#requireAudit();
      const upstream = await this.#upstream(split.server);
      upstream.touch();
      // Why only name and arguments: nothing else the client sent (its _meta included) reaches the server.
      const result = await upstream.client.request({ method: 'tools/call', params: { name: split.tool, arguments: args } }, CallToolResultSchema, this.#requestOptions(signal));
      const out = this.#untrusted(split.server, split.tool, result as CallToolResult);
      this.#record({ server, method: 'tools/call', name: view.tool.name, argumentDigest, decision: 'allowed', code: null, reason: null, started, policyIds, output: out });
      return out.value as CallToolResult;
    } catch (err) {
      const refusal = asRefusal(err, signal);
      const decision: McpDecision = refusal.refusal === 'approval_required' ? 'approval_required' : isServerError(refusal) ? 'error' : 'refused';
      this.#record({ server, method: 'tools/call', name: view?.tool.name ?? null, argumentDigest, decision, code: refusal.data.airlock_code, reason: refusal.data.reason, started, policyIds });
      throw refusal.error;
    }
  }

  /** Scans and redacts `result` and marks it as untrusted data from `server`/`name`. */
  #untrusted<T extends { _meta?: Record<string, unknown> | undefined }>(server: string, name: string, result: T): { value: T; digest: string; findings: string[] } {
    const { _meta, ...content } = result;
    const scanned = this.#context.scanner.output(server, name, content);
    const findings = scanned.findings.map((f) => ({ rule: f.rule, severity: f.severity, where: f.where, rationale: f.rationale }));
    const value = { ...(scanned.redacted as object), _meta: { ...(_meta ?? {}), [UNTRUSTED_META]: { source: { server, name }, findings } } } as unknown as T;
    return { value, digest: canonicalDigest(value), findings: findings.map((f) => f.rule) };
  }

  #requestOptions(signal?: AbortSignal): { timeout: number; signal?: AbortSignal } {
    return { timeout: this.#context.config.limits.callTimeoutSeconds * 1000, ...(signal === undefined ? {} : { signal }) };
  }

  /** Refuses when the audit log can't be written. Why: a call that can't be recorded must not happen. */
  #requireAudit(): void {
    const why = this.#context.recorder.unavailable();
    if (why !== undefined) throw new McpRefusal('audit_unavailable', why);
  }

  /**
   * Records a request without holding up its answer (the call has happened, or was refused, by
   * now; calls are not forwarded while the log is unwritable). A failed append is reported.
   */
  #record(r: { server: string; method: string; name: string | null; argumentDigest: string | null; decision: McpDecision; code: string | null; reason: string | null; started: number; policyIds: readonly string[]; output?: { digest: string; findings: string[] } }): void {
    void this.#context.recorder.call({
      caller: this.caller,
      server: r.server,
      method: r.method,
      name: r.name,
      argumentDigest: r.argumentDigest,
      decision: r.decision,
      code: r.code,
      reason: r.reason,
      durationMs: performance.now() - r.started,
      outputDigest: r.output?.digest ?? null,
      outputFindings: r.output?.findings ?? [],
      policyIds: r.policyIds,
    });
  }

  // ---- prompts and resources

  async #listPrompts(): Promise<{ prompts: Prompt[] }> {
    const prompts: Prompt[] = [];
    await Promise.allSettled(
      this.#servers.map(async (server) => {
        const upstream = await this.#upstream(server);
        if (upstream.client.getServerCapabilities()?.prompts === undefined) return;
        const result = await upstream.client.request({ method: 'prompts/list', params: {} }, ListPromptsResultSchema, this.#requestOptions());
        for (const prompt of result.prompts) {
          if (this.#decision('mcp.prompt', server, prompt.name) !== 'deny') prompts.push({ ...prompt, name: proxiedName(server, prompt.name) });
        }
      }),
    );
    return { prompts };
  }

  async #getPrompt(params: { name: string; arguments?: Record<string, string> | undefined }, signal: AbortSignal): Promise<Record<string, unknown>> {
    const split = splitName(params.name);
    if (split === undefined) throw new McpRefusal('unknown_tool', `no prompt named ${JSON.stringify(params.name)}`);
    return this.#itemRequest('mcp.prompt', 'prompts/get', split.server, split.tool, signal, (upstream) =>
      upstream.client.request({ method: 'prompts/get', params: { name: split.tool, ...(params.arguments === undefined ? {} : { arguments: params.arguments }) } }, GetPromptResultSchema, this.#requestOptions(signal)),
    );
  }

  async #listResources(): Promise<{ resources: Resource[] }> {
    const resources: Resource[] = [];
    await Promise.allSettled(
      this.#servers.map(async (server) => {
        const upstream = await this.#upstream(server);
        if (upstream.client.getServerCapabilities()?.resources === undefined) return;
        const result = await upstream.client.request({ method: 'resources/list', params: {} }, ListResourcesResultSchema, this.#requestOptions());
        for (const resource of result.resources) {
          // Why the first server keeps a URI: a later server must not take over another's resources.
          if (!this.#resources.has(resource.uri)) this.#resources.set(resource.uri, server);
          if (this.#resources.get(resource.uri) === server && this.#decision('mcp.resource', server, resource.uri) !== 'deny') resources.push(resource);
        }
      }),
    );
    return { resources };
  }

  async #readResource(params: { uri: string }, signal: AbortSignal): Promise<Record<string, unknown>> {
    if (!this.#resources.has(params.uri)) await this.#listResources();
    const server = this.#resources.get(params.uri);
    if (server === undefined) throw new McpRefusal('unknown_tool', `no listed resource ${JSON.stringify(params.uri)}`);
    return this.#itemRequest('mcp.resource', 'resources/read', server, params.uri, signal, (upstream) =>
      upstream.client.request({ method: 'resources/read', params: { uri: params.uri } }, ReadResourceResultSchema, this.#requestOptions(signal)),
    );
  }

  #decision(action: McpAction, server: string, name: string): 'allow' | 'deny' | 'approval' {
    const kind = action === 'mcp.prompt' ? 'prompt' : 'resource';
    return decide(this.#context, this.caller, action, { server, name, kind, destructive: false, readOnly: true }).decision;
  }

  /** A prompts/get or resources/read: Cedar, then the server, then the output scanned and marked. */
  async #itemRequest(action: McpAction, method: string, server: string, name: string, signal: AbortSignal, send: (u: Upstream) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    const started = performance.now();
    try {
      if (this.#context.config.servers[server] === undefined) throw new McpRefusal('unknown_server', `no server named ${JSON.stringify(server)}`);
      const decision = decide(this.#context, this.caller, action, { server, name, kind: action === 'mcp.prompt' ? 'prompt' : 'resource', destructive: false, readOnly: true });
      // Why no approval path here: reading a prompt or resource changes nothing; one that needs approval is refused.
      if (decision.decision !== 'allow') throw new McpRefusal('policy_denied', decision.reasons.join('; '), { policy_ids: decision.policyIds });
      this.#requireAudit();
      const upstream = await this.#upstream(server);
      upstream.touch();
      const out = this.#untrusted(server, name, await send(upstream));
      this.#record({ server, method, name: null, argumentDigest: null, decision: 'allowed', code: null, reason: null, started, policyIds: decision.policyIds, output: out });
      return out.value;
    } catch (err) {
      const refusal = asRefusal(err, signal);
      this.#record({ server, method, name: null, argumentDigest: null, decision: isServerError(refusal) ? 'error' : 'refused', code: refusal.data.airlock_code, reason: refusal.data.reason, started, policyIds: [] });
      throw refusal.error;
    }
  }
}

/** An error as the client gets it, and the code and reason recorded for it. */
interface AnsweredError {
  error: McpError;
  refusal: string | undefined;
  data: { airlock_code: string; reason: string };
}

/** The proxy's refusal for `err`: its own refusals as they are, the transport's in its words, the server's passed on. */
function asRefusal(err: unknown, signal: AbortSignal): AnsweredError {
  if (err instanceof McpRefusal) return { error: err, refusal: err.refusal, data: { airlock_code: err.refusal, reason: err.reason } };
  if (signal.aborted) return { error: new McpError(ErrorCode.ConnectionClosed, 'the client cancelled the request'), refusal: undefined, data: { airlock_code: 'client_cancelled', reason: 'the client cancelled the request or disconnected' } };
  if (err instanceof McpError && err.code === (ErrorCode.RequestTimeout as number)) {
    const r = new McpRefusal('call_timeout', err.message);
    return { error: r, refusal: r.refusal, data: { airlock_code: r.refusal, reason: r.reason } };
  }
  if (err instanceof McpError && err.code === (ErrorCode.ConnectionClosed as number)) {
    const r = new McpRefusal('server_unavailable', 'the server ended while the request was open');
    return { error: r, refusal: r.refusal, data: { airlock_code: r.refusal, reason: r.reason } };
  }
  // The server's own JSON-RPC error reaches the client as it sent it.
  if (err instanceof McpError) return { error: err, refusal: undefined, data: { airlock_code: 'server_error', reason: err.message } };
  const r = new McpRefusal('server_unavailable', (err as Error).message ?? String(err));
  return { error: r, refusal: r.refusal, data: { airlock_code: r.refusal, reason: r.reason } };
}

function isServerError(answer: AnsweredError): boolean {
  return answer.refusal === undefined || answer.refusal === 'server_unavailable' || answer.refusal === 'call_timeout';
}
