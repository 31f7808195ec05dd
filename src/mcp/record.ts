/**
 * What the MCP proxy writes down: one audit record per request (agent, server, tool, argument
 * digest, decision and reason, duration, output digest), the `airlock_mcp_calls_total` counter,
 * and MCP-layer security violations (a changed definition, a flagged one, a refused sampling
 * request). A failed audit append is reported, never swallowed silently.
 */
import type { Caller } from '../admission/caller.ts';
import type { AuditLog } from '../audit/log.ts';
import type { AirlockMetrics } from '../observability/metrics.ts';
import type { SecurityViolation, Severity } from '../sandbox/result.ts';
import { violation } from '../sandbox/violations.ts';

/** The outcome of one proxied request. */
export type McpDecision = 'allowed' | 'refused' | 'approval_required' | 'error';

/** One proxied request, as recorded. */
export interface McpCallRecord {
  caller: Caller;
  server: string;
  /** `tools/call`, `prompts/get`, `resources/read`, … */
  method: string;
  /** Tool, prompt or resource name; null when the request named none the proxy knows. */
  name: string | null;
  argumentDigest: string | null;
  decision: McpDecision;
  /** The refusal's code (McpRefusal.refusal) or the server error's; null when allowed. */
  code: string | null;
  reason: string | null;
  durationMs: number;
  outputDigest: string | null;
  /** Scanner findings in the output (rule ids). */
  outputFindings: string[];
  policyIds: readonly string[];
}

/** Where records go; each part optional (tests, embedders). */
export interface McpRecorderOptions {
  audit?: (Pick<AuditLog, 'append'> & Partial<Pick<AuditLog, 'health'>>) | undefined;
  metrics?: Pick<AirlockMetrics, 'mcpCall' | 'violationRecorded'> | undefined;
  onError?: ((err: unknown) => void) | undefined;
}

/** Writes the proxy's records. */
export class McpRecorder {
  readonly #options: McpRecorderOptions;

  constructor(options: McpRecorderOptions) {
    this.#options = options;
  }

  /** Why the audit log can't be written now; undefined while it can (or when it reports no health). */
  unavailable(): string | undefined {
    const health = this.#options.audit?.health;
    return health === undefined || health.writable ? undefined : (health.reason ?? 'unwritable');
  }

  /** Records one request (audit and metric); resolves once the audit record is written. */
  async call(record: McpCallRecord): Promise<void> {
    // Why a fixed label for an unknown name: a client must not grow the metric's label set at will.
    this.#options.metrics?.mcpCall(record.server, record.name ?? 'unknown', record.decision);
    await this.#append({
      kind: 'mcp.call',
      agentId: record.caller.agentId,
      actor: { name: record.caller.name, role: record.caller.role, agent_id: record.caller.agentId },
      data: {
        server: record.server,
        method: record.method,
        name: record.name,
        argument_digest: record.argumentDigest,
        decision: record.decision,
        code: record.code,
        reason: record.reason,
        duration_ms: Math.round(record.durationMs * 1000) / 1000,
        output_digest: record.outputDigest,
        output_findings: record.outputFindings,
        policy_ids: [...record.policyIds],
      },
    });
  }

  /** Records an MCP-layer violation (audit `violation`, metrics) and returns it. */
  async violation(caller: Caller | null, type: string, severity: Severity, description: string, indicators: Record<string, unknown>, remediation: string): Promise<SecurityViolation> {
    const v = violation(type, severity, 'MCP', description, indicators, remediation);
    this.#options.metrics?.violationRecorded(v);
    await this.#append({ kind: 'violation', agentId: caller?.agentId ?? null, actor: caller === null ? null : { name: caller.name, role: caller.role, agent_id: caller.agentId }, data: { ...v } });
    return v;
  }

  async #append(event: Parameters<AuditLog['append']>[0]): Promise<void> {
    if (this.#options.audit === undefined) return;
    await this.#options.audit.append(event).then(
      () => undefined,
      (err: unknown) => this.#options.onError?.(err),
    );
  }
}
