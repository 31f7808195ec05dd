/**
 * Prometheus metrics. Each `AirlockMetrics` owns its own `Registry` (no module-level registry, so
 * two apps in one process never share or double-register counters). It is the service's
 * `ServiceObserver` and also records HTTP requests.
 *
 * The seed controller's metric names are kept as they are, because dashboards and alerts use them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SandboxInfo, ServiceObserver } from '../sandbox/service-types.ts';
import type { ExecutionResult, SecurityViolation } from '../sandbox/result.ts';
import type { EgressDecision } from '../network/proxy/index.ts';

export interface MetricsOptions {
  /** Also export Node process metrics (CPU, memory, event loop). Default false. */
  processMetrics?: boolean;
}

const COLD_START_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10];
/** Audit appends wait for a commit (one fsync per batch): sub-millisecond to a slow disk's seconds. */
const AUDIT_APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const MAX_LABEL_LENGTH = 64;
/** Distinct egress host labels kept; later hosts are counted as "other". */
const MAX_EGRESS_HOSTS = 500;

/** The `result` label of `hardened_sandbox_executions_total`: `success`, `failure`, or why it ended. */
export function executionResultLabel(result: ExecutionResult): string {
  if (result.success) return 'success';
  return result.termination_reason === 'completed' ? 'failure' : result.termination_reason;
}

/**
 * How many attempts a violation stands for: an aggregated one (a burst of seccomp denials) carries
 * its exact count in `indicators.count`. Why: every denial is counted, even when listed once.
 */
export function attemptsOf(v: SecurityViolation): number {
  const count = v.indicators['count'];
  return typeof count === 'number' && Number.isSafeInteger(count) && count > 0 ? count : 1;
}

/** Whether a violation counts as an escape attempt (kernel-surface or filesystem escape). */
export function isEscapeAttempt(v: SecurityViolation): boolean {
  // Why the pattern too: a violation that names an escape pattern (fork bomb, drift, egress) is one.
  return v.detection_layer === 'SECCOMP' || v.detection_layer === 'FILESYSTEM' || v.violation_type.includes('escape') || typeof v.indicators['pattern'] === 'string';
}

// Labels are bounded and printable: an unbounded label set would let input grow memory forever.
function label(value: unknown): string {
  const text = typeof value === 'string' && value.length > 0 ? value : 'unknown';
  return text.replace(/[^A-Za-z0-9_.:/-]/g, '_').slice(0, MAX_LABEL_LENGTH);
}

/** All metrics of one control-plane instance. */
export class AirlockMetrics implements ServiceObserver {
  readonly registry = new Registry();
  readonly #executions: Counter<'runtime' | 'result'>;
  readonly #violations: Counter<'type' | 'severity'>;
  readonly #escapes: Counter<'pattern'>;
  readonly #coldStart: Histogram<'runtime'>;
  readonly #created: Counter<'runtime' | 'pooled'>;
  readonly #ended: Counter<'runtime' | 'reason'>;
  readonly #capacity: Counter;
  readonly #poolReady: Gauge<'pool'>;
  readonly #poolCheckouts: Counter<'pool' | 'result'>;
  readonly #egress: Counter<'decision' | 'reason' | 'host' | 'port'>;
  readonly #egressHosts = new Set<string>();
  readonly #httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly #httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly #auditAppend: Histogram;
  readonly #mcpCalls: Counter<'server' | 'tool' | 'decision'>;
  #activeSource: (() => number) | undefined;
  #activeCount = 0;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.#executions = new Counter({ name: 'hardened_sandbox_executions_total', help: 'Sandbox executions by runtime and result.', labelNames: ['runtime', 'result'], registers });
    this.#violations = new Counter({ name: 'hardened_sandbox_violations_total', help: 'Security violations by type and severity.', labelNames: ['type', 'severity'], registers });
    this.#escapes = new Counter({ name: 'hardened_sandbox_escape_attempts_total', help: 'Escape attempts by pattern.', labelNames: ['pattern'], registers });
    this.#coldStart = new Histogram({ name: 'hardened_sandbox_cold_start_duration_seconds', help: 'Time from request to the sandboxed process running.', labelNames: ['runtime'], buckets: COLD_START_BUCKETS, registers });
    const activeNow = (): number => this.#activeSource?.() ?? this.#activeCount;
    new Gauge({
      name: 'active_hardened_sandboxes_count',
      help: 'Sandboxes currently running (one-shot and persistent).',
      registers,
      collect() {
        this.set(activeNow());
      },
    });
    this.#created = new Counter({ name: 'airlock_sandboxes_created_total', help: 'Persistent sandboxes created.', labelNames: ['runtime', 'pooled'], registers });
    this.#ended = new Counter({ name: 'airlock_sandboxes_ended_total', help: 'Persistent sandboxes ended, by reason.', labelNames: ['runtime', 'reason'], registers });
    this.#capacity = new Counter({ name: 'airlock_capacity_refusals_total', help: 'Requests refused because the concurrent-sandbox cap was reached.', registers });
    this.#poolReady = new Gauge({ name: 'airlock_pool_ready_sandboxes', help: 'Warm sandboxes ready in each pool.', labelNames: ['pool'], registers });
    this.#poolCheckouts = new Counter({ name: 'airlock_pool_checkouts_total', help: 'Pool checkouts, by hit or miss.', labelNames: ['pool', 'result'], registers });
    this.#egress = new Counter({
      name: 'airlock_egress_decisions_total',
      help: `Egress proxy decisions by decision, reason, host and port (hosts past the first ${MAX_EGRESS_HOSTS} distinct ones are labelled "other").`,
      labelNames: ['decision', 'reason', 'host', 'port'],
      registers,
    });
    this.#httpRequests = new Counter({ name: 'airlock_http_requests_total', help: 'HTTP requests by method, route and status.', labelNames: ['method', 'route', 'status'], registers });
    this.#httpDuration = new Histogram({ name: 'airlock_http_request_duration_seconds', help: 'HTTP request duration.', labelNames: ['method', 'route', 'status'], buckets: HTTP_BUCKETS, registers });
    this.#auditAppend = new Histogram({
      name: 'airlock_audit_append_duration_seconds',
      help: 'Time from an audit append to its record being durable (batching wait and commit included).',
      buckets: AUDIT_APPEND_BUCKETS,
      registers,
    });
    this.#mcpCalls = new Counter({ name: 'airlock_mcp_calls_total', help: 'Requests through the MCP proxy by server, tool (prompt or resource) and decision.', labelNames: ['server', 'tool', 'decision'], registers });
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one MCP proxy request; `tool` must be a pinned name (never a name a client made up: the label set stays bounded). */
  mcpCall(server: string, tool: string, decision: string): void {
    this.#mcpCalls.inc({ server: label(server), tool: label(tool), decision: label(decision) });
  }

  /** Makes `active_hardened_sandboxes_count` read the service's live count at scrape time. */
  setActiveSandboxesSource(source: () => number): void {
    this.#activeSource = source;
  }

  /** ServiceObserver: one-shot execution finished. */
  executionFinished(result: ExecutionResult): void {
    const runtime = label(result.runtime_used);
    this.#executions.inc({ runtime, result: label(executionResultLabel(result)) });
    if (result.termination_reason !== 'start_failed') this.#coldStart.observe({ runtime }, result.cold_start_time_ms / 1000);
    for (const v of result.security_violations) {
      this.#violations.inc({ type: label(v.violation_type), severity: label(v.severity) });
      if (isEscapeAttempt(v)) {
        const pattern = typeof v.indicators['pattern'] === 'string' ? v.indicators['pattern'] : v.violation_type;
        this.#escapes.inc({ pattern: label(pattern) }, attemptsOf(v));
      }
    }
  }

  /** ServiceObserver: persistent sandbox started. */
  sandboxCreated(info: SandboxInfo, coldStartMs: number): void {
    this.#activeCount += 1;
    this.#created.inc({ runtime: label(info.runtime), pooled: String(info.pooled) });
    this.#coldStart.observe({ runtime: label(info.runtime) }, coldStartMs / 1000);
  }

  /** ServiceObserver: persistent sandbox ended. */
  sandboxEnded(info: SandboxInfo): void {
    this.#activeCount = Math.max(0, this.#activeCount - 1);
    this.#ended.inc({ runtime: label(info.runtime), reason: label(info.end_reason ?? 'unknown') });
  }

  /** ServiceObserver: a request was refused at the concurrency cap. */
  capacityRefused(): void {
    this.#capacity.inc();
  }

  /** ServiceObserver: a warm pool's ready count changed. */
  poolChanged(key: string, ready: number): void {
    this.#poolReady.set({ pool: label(key) }, ready);
  }

  /** ServiceObserver: a sandbox was taken from a pool (hit) or built because it was empty (miss). */
  poolCheckout(key: string, hit: boolean): void {
    this.#poolCheckouts.inc({ pool: label(key), result: hit ? 'hit' : 'miss' });
  }

  /** ServiceObserver: one egress proxy decision (allowed or refused). */
  egressDecision(decision: EgressDecision): void {
    // Hosts come from sandboxed code: a bounded label set, so a sandbox can't grow memory without end.
    const host = this.#egressHosts.has(decision.host) || this.#egressHosts.size < MAX_EGRESS_HOSTS ? decision.host : 'other';
    this.#egressHosts.add(host);
    this.#egress.inc({ decision: decision.allowed ? 'allowed' : 'refused', reason: label(decision.reason), host: label(host), port: String(decision.port) });
  }

  /** ServiceObserver: a violation recorded outside a one-shot result (a persistent sandbox's drift). */
  violationRecorded(v: SecurityViolation): void {
    this.#violations.inc({ type: label(v.violation_type), severity: label(v.severity) });
  }

  /** Records one audit append's latency (see AuditLog.observeAppendLatency). */
  auditAppended(seconds: number): void {
    this.#auditAppend.observe(seconds);
  }

  /** Records one HTTP request; `route` must be the route template, never the raw URL. */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const labels = { method: label(method), route: label(route), status: String(status) };
    this.#httpRequests.inc(labels);
    this.#httpDuration.observe(labels, seconds);
  }

  /** The exposition text. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Content type of `render()`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
