/**
 * Approvals in the store: requests that policy lets run only once an approver has signed a decision.
 * The store keeps them across restarts and makes each state change one atomic step; what a decision
 * must prove (signature, role, digest) is checked by the approval gate (src/approvals) before it
 * asks the store to record it.
 */
import type { ApprovalAction } from '../policy/request.ts';

/**
 * The stored state. `expired` is never stored: it is computed from the stored expiry on every read,
 * so an approval expires on time even across a restart and without a timer.
 */
export type StoredApprovalState = 'pending' | 'approved' | 'denied' | 'consumed';

/** What opening an approval records. */
export interface NewApproval {
  /** Random, unguessable id (chosen by the gate). */
  readonly id: string;
  /** `sha256:<hex>` of the RFC 8785 canonical JSON of the admitted request. */
  readonly actionDigest: string;
  readonly requesterName: string;
  readonly requesterAgentId: string;
  readonly action: ApprovalAction;
  readonly sandboxId: string | null;
  /** The resolved request as given, shown to approvers (JSON). */
  readonly summary: unknown;
  readonly policyIds: readonly string[];
  readonly reasons: readonly string[];
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

/** One approval as stored. */
export interface StoredApproval extends NewApproval {
  readonly state: StoredApprovalState;
  /** Principal whose key signed the decision; null while pending. */
  readonly decidedBy: string | null;
  /** Key id that signed the decision; null while pending. */
  readonly decidedKeyId: string | null;
  readonly decidedAtMs: number | null;
  /** The signed decision's own expiry (at most the approval's); null while pending. */
  readonly decisionExpiresAtMs: number | null;
  readonly consumedAtMs: number | null;
}

/** A decision the gate has verified, to be recorded. */
export interface ApprovalDecisionRecord {
  readonly id: string;
  readonly decision: 'approve' | 'deny';
  readonly decidedBy: string;
  readonly keyId: string;
  readonly nonce: string;
  /** The decision's own expiry: the nonce is remembered until then. */
  readonly decisionExpiresAtMs: number;
  readonly nowMs: number;
}

/** Outcome of {@link ApprovalStore.recordDecision}; anything but `decided` changed nothing. */
export type RecordDecisionOutcome = 'decided' | 'not_found' | 'expired' | 'nonce_replayed' | 'already_decided';

/** Outcome of {@link ApprovalStore.consume}; anything but `consumed` changed nothing. */
export type ConsumeOutcome = 'consumed' | 'not_found' | 'pending' | 'denied' | 'expired' | 'already_consumed';

/** Whether `approval` has expired at `nowMs`: past its expiry, or (approved) past its decision's. */
export function approvalExpired(approval: StoredApproval, nowMs: number): boolean {
  // Why a decided-and-finished approval never "expires": denied and consumed are final answers.
  if (approval.state === 'denied' || approval.state === 'consumed') return false;
  const until = Math.min(approval.expiresAtMs, approval.decisionExpiresAtMs ?? Number.POSITIVE_INFINITY);
  return nowMs >= until;
}

/** Approvals, kept by the control store. Every write is one transaction. */
export interface ApprovalStore {
  /** Records a new pending approval; refuses (`invalid_input`) an id already used. */
  create(input: NewApproval): Promise<StoredApproval>;
  /** One approval, or undefined. */
  get(id: string): Promise<StoredApproval | undefined>;
  /** Approvals newest first; only those of `requesterAgentId` when given. */
  list(filter?: { readonly requesterAgentId?: string | undefined }): Promise<StoredApproval[]>;
  /**
   * Records a decision if the approval exists, is pending and unexpired at `nowMs`, and the nonce
   * was never used for a decision before (the nonce is then remembered until the decision expires).
   */
  recordDecision(input: ApprovalDecisionRecord): Promise<RecordDecisionOutcome>;
  /** Marks an approved, unexpired approval consumed: of two concurrent calls, exactly one succeeds. */
  consume(id: string, nowMs: number): Promise<ConsumeOutcome>;
}
