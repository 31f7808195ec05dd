/**
 * The sandbox service's events in the audit log: sandboxes created and ended (with the end reason,
 * image digest, limits, network and violations), egress decisions, allowlist changes and
 * violations. The service reports them after the fact, so they are appended without holding it
 * up; a failed append is reported to `onError` and leaves the log unhealthy (new sandboxes are then
 * refused at admission, which does wait for its record).
 */
import type { SandboxInfo, ServiceObserver } from '../sandbox/service-types.ts';
import type { ExecutionResult } from '../sandbox/result.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { AuditLog } from './log.ts';
import type { AuditEvent } from './record.ts';
import { bounded } from './bounded.ts';

/** Options of {@link auditObserver}. */
export interface AuditObserverOptions {
  readonly audit: Pick<AuditLog, 'append'>;
  /** The owner (tenancy id) of a sandbox or one-shot by id, when still known. */
  readonly ownerOf: (sandboxId: string) => string | undefined;
  /** The active policy hash, recorded with each sandbox. */
  readonly policyHash: () => string;
  readonly onError: (err: unknown, event: AuditEvent) => void;
}

/** The record of a sandbox as it was created or ended. */
export function sandboxData(info: SandboxInfo, policyHash: string): Record<string, unknown> {
  return bounded({ ...info, policy_hash: policyHash }) as Record<string, unknown>;
}

/** The record of a one-shot's end: what ran, in which spec, under which policy hash, how it ended (API and `airlock run` alike). */
export function executionFinishedEvent(owner: string, spec: SandboxSpec, result: ExecutionResult): AuditEvent {
  return { kind: 'execution.finished', agentId: owner, sandboxId: result.execution_id, data: bounded({ ...result, spec }) as Record<string, unknown> };
}

/** A ServiceObserver that appends the service's events to the audit log. */
export function auditObserver(options: AuditObserverOptions): ServiceObserver {
  const append = (event: AuditEvent) => {
    options.audit.append(event).catch((err: unknown) => options.onError(err, event));
  };
  return {
    sandboxCreated(info, coldStartMs) {
      append({ kind: 'sandbox.created', agentId: info.owner, sandboxId: info.sandbox_id, data: { ...sandboxData(info, options.policyHash()), cold_start_ms: coldStartMs } });
    },
    sandboxEnded(info) {
      append({ kind: 'sandbox.ended', agentId: info.owner, sandboxId: info.sandbox_id, data: sandboxData(info, options.policyHash()) });
    },
    egressDecision(decision) {
      append({ kind: 'egress', agentId: options.ownerOf(decision.sandboxId) ?? null, sandboxId: decision.sandboxId, data: bounded(decision) as Record<string, unknown> });
    },
    allowlistChanged(sandboxId, allowedHosts) {
      append({ kind: 'allowlist.changed', agentId: options.ownerOf(sandboxId) ?? null, sandboxId, data: { allowed_hosts: [...allowedHosts] } });
    },
    violationRecorded(violation) {
      const named = violation.indicators['sandbox_id'];
      const sandboxId = typeof named === 'string' ? named : null;
      append({ kind: 'violation', agentId: sandboxId === null ? null : (options.ownerOf(sandboxId) ?? null), sandboxId, data: bounded(violation) as Record<string, unknown> });
    },
  };
}
