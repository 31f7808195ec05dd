/** What callers see of an approval: the API's JSON form (snake_case, ISO 8601 times). */
import type { ApprovalAction } from '../policy/request.ts';
import { approvalExpired, type StoredApproval } from '../store/approvals.ts';

/** An approval's state as callers see it: `expired` is computed from the stored expiry on every read. */
export type ApprovalState = 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';

/** One approval as the API, the CLI and the SDK show it. */
export interface PendingApprovalView {
  approval_id: string;
  state: ApprovalState;
  action: ApprovalAction;
  sandbox_id: string | null;
  /** `sha256:<hex>` of the RFC 8785 canonical JSON of the admitted request: what an approver signs. */
  action_digest: string;
  requester: { name: string; agent_id: string };
  /** The resolved request as admission gave it, for the approver to read before signing. */
  summary: unknown;
  /** The policies that asked for the approval, and their reasons. */
  policy_ids: string[];
  reasons: string[];
  created_at: string;
  expires_at: string;
  /** Principal whose key signed the decision. */
  decided_by: string | null;
  decided_at: string | null;
  /** The signed decision's own expiry; an approval can be used until the earlier of the two. */
  decision_expires_at: string | null;
}

/** Any approval's view (pending or not): the same shape. */
export type ApprovalView = PendingApprovalView;

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** The state at `nowMs`. */
export function stateAt(approval: StoredApproval, nowMs: number): ApprovalState {
  return approvalExpired(approval, nowMs) ? 'expired' : approval.state;
}

/** The view of a stored approval at `nowMs`. */
export function toView(approval: StoredApproval, nowMs: number): PendingApprovalView {
  return {
    approval_id: approval.id,
    state: stateAt(approval, nowMs),
    action: approval.action,
    sandbox_id: approval.sandboxId,
    action_digest: approval.actionDigest,
    requester: { name: approval.requesterName, agent_id: approval.requesterAgentId },
    summary: approval.summary,
    policy_ids: [...approval.policyIds],
    reasons: [...approval.reasons],
    created_at: iso(approval.createdAtMs),
    expires_at: iso(approval.expiresAtMs),
    decided_by: approval.decidedBy,
    decided_at: isoOrNull(approval.decidedAtMs),
    decision_expires_at: isoOrNull(approval.decisionExpiresAtMs),
  };
}
