/**
 * The record of one admission decision: who asked for what on which sandbox, the outcome (allowed,
 * approval required, refused), the deciding step and policies, the action digest, and the bounded
 * parameters. Admission appends it before answering, so an allowed action never runs unrecorded.
 */
import type { AuditEvent } from './record.ts';
import { bounded } from './bounded.ts';

/** The caller as a record names it. */
export interface RecordedCaller {
  readonly name: string;
  readonly role: string;
  readonly agentId: string;
  readonly via: string;
  readonly keyId?: string | undefined;
}

/** What admission knows when it records. */
export interface AdmissionFacts {
  readonly caller: RecordedCaller;
  readonly action: string;
  readonly sandbox?: { readonly id: string; readonly owner: string; readonly spec: unknown } | undefined;
  readonly request?: unknown;
  readonly parameters: unknown;
  readonly policyBundleHash: string;
}

/** How it ended. */
export type AdmissionOutcome =
  | { readonly outcome: 'allowed'; readonly actionDigest: string; readonly approved: boolean; readonly policyIds: readonly string[] }
  | { readonly outcome: 'approval_required'; readonly actionDigest: string; readonly approvalId: string; readonly policyIds: readonly string[] }
  | { readonly outcome: 'refused'; readonly step: string; readonly code: string; readonly reason: string; readonly policyIds: readonly string[] };

/** The audit event of a decision. */
export function admissionEvent(facts: AdmissionFacts, result: AdmissionOutcome): AuditEvent {
  const { caller } = facts;
  // Tenancy: the record belongs to the sandbox's owner (an operator acting on an agent's sandbox
  // shows in that agent's log), else to the caller.
  const agentId = facts.sandbox?.owner ?? caller.agentId;
  const sandboxId = facts.sandbox === undefined || facts.sandbox.id === 'new' ? null : facts.sandbox.id;
  const common = {
    action: facts.action,
    policy_bundle_hash: facts.policyBundleHash,
    spec: bounded(facts.request ?? facts.sandbox?.spec ?? null),
    parameters: bounded(facts.parameters),
    via: caller.via,
    key_id: caller.keyId ?? null,
  };
  const data =
    result.outcome === 'allowed'
      ? { ...common, outcome: 'allowed', action_digest: result.actionDigest, approved: result.approved, policy_ids: [...result.policyIds] }
      : result.outcome === 'approval_required'
        ? { ...common, outcome: 'approval_required', action_digest: result.actionDigest, approval_id: result.approvalId, policy_ids: [...result.policyIds] }
        : { ...common, outcome: 'refused', step: result.step, code: result.code, reason: result.reason, policy_ids: [...result.policyIds] };
  return { kind: 'admission', agentId, sandboxId, actor: { name: caller.name, role: caller.role, agent_id: caller.agentId }, data };
}
