/**
 * An operator's approval of a server's tools (`airlock mcp approve SERVER`): the server is started
 * the way the proxy starts it (in its sandbox), its tools are listed and scanned, and every tool's
 * definition digest is pinned. The pins change the proxy's policy hash; the approval is audited.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { ListToolsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from '../admission/caller.ts';
import type { AuditLog } from '../audit/log.ts';
import { definitionDigest } from './pins.ts';
import type { McpProxy } from './proxy.ts';
import { McpRefusal } from './refusal.ts';
import type { ScanFinding } from './scanning.ts';
import { scannedDefinition } from './tool-views.ts';
import { connectUpstream } from './upstream/connect.ts';

/** One tool as approved. */
export interface ApprovedTool {
  name: string;
  digest: string;
  /** The scanner's findings: pinned or not, a finding at or above the threshold still blocks the tool. */
  findings: ScanFinding[];
  /** The previous pin when it differed (a re-approval of a changed definition); null when new or unchanged. */
  replaced: string | null;
}

/** Starts `server`, lists and scans its tools, pins them as approved by `operator`. */
export async function approveServer(proxy: McpProxy, server: string, operator: Caller, audit?: Pick<AuditLog, 'append'>): Promise<ApprovedTool[]> {
  const { context } = proxy;
  const config = context.config.servers[server];
  if (config === undefined) throw new McpRefusal('unknown_server', `no server named ${JSON.stringify(server)} in mcp.servers`);
  const upstream = await connectUpstream({
    name: server,
    server: config,
    service: context.service,
    owner: operator.agentId,
    ttlSeconds: context.ttlSeconds,
    maxMessageBytes: context.config.limits.messageBytes * 4,
    startTimeoutMs: context.config.limits.startTimeoutSeconds * 1000,
    // Why: listing tools needs nothing from the client; anything asked for while approving is refused.
    onServerRequest: async (request) => {
      throw new McpRefusal('sampling_refused', `${server} asked for ${request.method} while being approved`);
    },
  });
  let tools: Tool[] = [];
  try {
    let cursor: string | undefined;
    // A server without tools (prompts or resources only) has nothing to pin.
    for (let page = 0; page < 20 && upstream.client.getServerCapabilities()?.tools !== undefined; page++) {
      const result = await upstream.client.request({ method: 'tools/list', params: cursor === undefined ? {} : { cursor } }, ListToolsResultSchema, { timeout: context.config.limits.callTimeoutSeconds * 1000 });
      tools = [...tools, ...result.tools];
      cursor = result.nextCursor;
      if (cursor === undefined) break;
    }
  } finally {
    await upstream.close();
  }
  const before = (await context.pins.read()).servers[server]?.tools ?? {};
  const approved = tools.map((tool) => {
    const digest = definitionDigest(tool);
    const previous = before[tool.name];
    return { name: tool.name, digest, findings: context.scanner.definition(scannedDefinition(server, tool), []), replaced: previous !== undefined && previous !== digest ? previous : null };
  });
  await context.pins.approve(server, tools, operator.name);
  await audit?.append({
    kind: 'mcp.pins',
    agentId: null,
    actor: { name: operator.name, role: operator.role, agent_id: operator.agentId },
    data: { server, tools: approved.map((t) => ({ name: t.name, digest: t.digest, replaced: t.replaced, findings: t.findings.map((f) => `${f.rule}:${f.severity}`) })), policy_hash: await proxy.policyHash() },
  });
  return approved;
}
