/**
 * What every proxy session shares: the configuration, the sandbox service its local servers run
 * on, the policy engine, pins, scanner, validator, approval gate and recorder, and the servers
 * configured as shared. Built once per proxy (src/mcp/proxy.ts).
 */
import type { Caller } from '../admission/caller.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import type { McpConfig } from '../config/mcp-config.ts';
import type { PolicyDecision, PolicyEngine } from '../policy/engine.ts';
import type { McpAction, McpItem, PolicySettings } from '../policy/request.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import type { ArgumentValidator } from './arguments.ts';
import type { PinStore } from './pins.ts';
import type { McpRecorder } from './record.ts';
import type { Scanner } from './scanning.ts';
import type { Upstream } from './upstream/connect.ts';

/** Where the proxy logs (a pino logger fits). */
export interface McpLog {
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** Everything a session needs from its proxy. */
export interface ProxyContext {
  readonly config: McpConfig;
  readonly service: SandboxServiceApi;
  readonly engine: PolicyEngine;
  readonly settings: PolicySettings;
  readonly pins: PinStore;
  readonly scanner: Scanner;
  readonly validator: ArgumentValidator;
  readonly approvals: ApprovalGate;
  readonly recorder: McpRecorder;
  readonly log: McpLog;
  /** Idle lifetime of a server's sandbox, refreshed on every request. */
  readonly ttlSeconds: number;
  /** The connection to a server configured `share: true` (one for every session). */
  sharedUpstream(server: string): Promise<Upstream>;
  /** True the first time a (server, tool, digest) is reported blocked: a violation is recorded once, not per list. */
  firstReport(key: string): boolean;
}

/** Cedar's decision on `action` over `item` for `caller`. */
export function decide(context: Pick<ProxyContext, 'engine' | 'settings'>, caller: Caller, action: McpAction, item: McpItem, approved = false): PolicyDecision {
  return context.engine.evaluate({ principal: { role: caller.role, id: caller.agentId, groups: caller.groups }, action, mcp: item, approved, settings: context.settings });
}
