/**
 * The approval gate: admission opens an approval when policy says a request needs one, an approver
 * decides it by signing `{approval_id, action_digest, decision, nonce, expires_at}` with its Ed25519
 * key, and the retried request redeems it, once, only if it is exactly the approved request.
 */
import { randomBytes } from 'node:crypto';
import type { Caller } from '../admission/caller.ts';
import type { ApprovalAction } from '../policy/request.ts';
import type { ActiveKey, ControlStore } from '../store/store.ts';
import type { ConsumeOutcome, RecordDecisionOutcome, StoredApproval } from '../store/approvals.ts';
import { checkDecisionForm, type SignedDecision } from './decision-input.ts';
import { verifyDecisionSignature } from './decision-signature.ts';
import { ACTION_DIGEST_PATTERN, type DecisionPayload } from './digest.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { APPROVAL_REFUSAL_CODES, ApprovalRefusal, type ApprovalRefusalCode } from './refusal.ts';
import { toView, type PendingApprovalView } from './view.ts';

export { actionDigest } from './digest.ts';
export { ApprovalRefusal, type ApprovalRefusalCode } from './refusal.ts';
export type { PendingApprovalView } from './view.ts';

/** Default lifetime of a pending approval: 15 minutes. */
export const DEFAULT_APPROVAL_TTL_SECONDS = 900;

/** What opening an approval takes. */
export interface OpenApprovalInput {
  requester: Caller;
  action: ApprovalAction;
  sandboxId?: string | undefined;
  actionDigest: string;
  summary: unknown;
  policyIds: readonly string[];
  reasons: readonly string[];
}

/** A signer's extra authorization (for example Cedar's `approve` action): allowed, or the deciding policies. */
export interface SignerCheck {
  allowed: boolean;
  policyIds: readonly string[];
}

/** The gate admission calls. */
export interface ApprovalGate {
  /** Records a pending approval for an admitted request that policy says needs one. */
  open(input: OpenApprovalInput): Promise<PendingApprovalView>;
  /** Checks and consumes an approval attached to a retried request (atomically: a second redeem fails approval_reused). Throws ApprovalRefusal. */
  redeem(input: { approvalId: string; actionDigest: string; requester: Caller }): Promise<void>;
  /** Verifies and records an approver's signed decision submitted by `submitter`. Throws ApprovalRefusal. */
  decide(input: { approvalId: string; decision: SignedDecision; submitter: Caller }): Promise<PendingApprovalView>;
  /** The approvals `viewer` may see, newest first: operators and approvers all, agents their tenant's. */
  list(viewer: Caller): Promise<PendingApprovalView[]>;
  /** One approval `viewer` may see; approval_not_found otherwise. */
  get(id: string, viewer: Caller): Promise<PendingApprovalView>;
}

/** Options of {@link StoreApprovalGate}. */
export interface StoreApprovalGateOptions {
  /** The store holding approvals and the approvers' keys. */
  store: Pick<ControlStore, 'approvals' | 'lookupActiveKey'>;
  /** Lifetime of a pending approval, seconds (default 900). */
  ttlSeconds?: number | undefined;
  /** Clock, ms (default Date.now); for tests. */
  now?: (() => number) | undefined;
  /** Checked after the role (for example Cedar's `approve` action); refusals name its policies. */
  authorizeSigner?: ((signer: ActiveKey['principal'], approval: PendingApprovalView) => SignerCheck | Promise<SignerCheck>) | undefined;
}

const DECIDE_REFUSAL: Record<Exclude<RecordDecisionOutcome, 'decided'>, ApprovalRefusalCode> = {
  not_found: 'approval_not_found',
  expired: 'approval_expired',
  nonce_replayed: 'approval_nonce_replayed',
  already_decided: 'approval_already_decided',
};

const CONSUME_REFUSAL: Record<Exclude<ConsumeOutcome, 'consumed'>, ApprovalRefusalCode> = {
  not_found: 'approval_not_found',
  pending: 'approval_pending',
  denied: 'approval_denied',
  expired: 'approval_expired',
  already_consumed: 'approval_reused',
};

/** Whether `viewer` may see `approval`. Why by tenant: an agent never learns of another tenant's approvals. */
function visibleTo(approval: StoredApproval, viewer: Caller): boolean {
  return viewer.role === 'operator' || viewer.role === 'approver' || approval.requesterAgentId === viewer.agentId;
}

/** The gate, on the control store. Holds no state of its own: everything is in the store. */
export class StoreApprovalGate implements ApprovalGate {
  readonly #store: StoreApprovalGateOptions['store'];
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #authorizeSigner: StoreApprovalGateOptions['authorizeSigner'];

  constructor(options: StoreApprovalGateOptions) {
    const ttl = options.ttlSeconds ?? DEFAULT_APPROVAL_TTL_SECONDS;
    if (!Number.isFinite(ttl) || ttl <= 0) throw new RangeError(`approval ttlSeconds must be positive, got ${ttl}`);
    this.#store = options.store;
    this.#ttlMs = ttl * 1000;
    this.#now = options.now ?? Date.now;
    this.#authorizeSigner = options.authorizeSigner;
  }

  async open(input: OpenApprovalInput): Promise<PendingApprovalView> {
    if (!ACTION_DIGEST_PATTERN.test(input.actionDigest)) throw new TypeError(`action digest ${JSON.stringify(input.actionDigest)} is not sha256:<hex>`);
    // Why: the summary is stored as JSON; a value JSON cannot hold must fail here, not on a later read.
    canonicalJson(input.summary ?? null);
    const now = this.#now();
    const stored = await this.#store.approvals.create({
      // Why 144 random bits: the id names the approval in URLs and logs; it must not be guessable.
      id: `apr_${randomBytes(18).toString('base64url')}`,
      actionDigest: input.actionDigest,
      requesterName: input.requester.name,
      requesterAgentId: input.requester.agentId,
      action: input.action,
      sandboxId: input.sandboxId ?? null,
      summary: input.summary ?? null,
      policyIds: [...input.policyIds],
      reasons: [...input.reasons],
      createdAtMs: now,
      expiresAtMs: now + this.#ttlMs,
    });
    return toView(stored, now);
  }

  async redeem(input: { approvalId: string; actionDigest: string; requester: Caller }): Promise<void> {
    const approval = await this.#store.approvals.get(input.approvalId);
    // Why the same answer for another requester's approval: its existence is not theirs to learn.
    if (approval === undefined || approval.requesterName !== input.requester.name || approval.requesterAgentId !== input.requester.agentId) {
      throw new ApprovalRefusal('approval_not_found', `no approval ${input.approvalId} of yours`);
    }
    // Why before consuming: a changed request must not use up the approval of the original one.
    if (approval.actionDigest !== input.actionDigest) {
      throw new ApprovalRefusal('approval_digest_mismatch', `the request differs from the one approval ${approval.id} was given for (approved ${approval.actionDigest}, this one ${input.actionDigest}); it needs a new approval`);
    }
    const outcome = await this.#store.approvals.consume(approval.id, this.#now());
    if (outcome !== 'consumed') throw new ApprovalRefusal(CONSUME_REFUSAL[outcome], `approval ${approval.id}: ${refusalText(CONSUME_REFUSAL[outcome])}`);
  }

  async decide(input: { approvalId: string; decision: SignedDecision; submitter: Caller }): Promise<PendingApprovalView> {
    const { decision, approvalId } = input;
    const decisionExpiresAt = checkDecisionForm(decision);
    const approval = await this.#store.approvals.get(approvalId);
    if (approval === undefined || !visibleTo(approval, input.submitter)) throw new ApprovalRefusal('approval_not_found', `no approval ${approvalId}`);
    const now = this.#now();
    const view = toView(approval, now);
    if (view.state === 'expired') throw new ApprovalRefusal('approval_expired', `approval ${approvalId} expired at ${view.expires_at}`);
    if (decisionExpiresAt <= now) throw new ApprovalRefusal('approval_expired', `the decision expired at ${decision.expires_at}; sign a new one`);
    // Why: a decision must not outlive what it decides; its signer chose the time, so it is refused, not clamped.
    if (decisionExpiresAt > approval.expiresAtMs) {
      throw new ApprovalRefusal('approval_decision_invalid', `the decision's expires_at ${decision.expires_at} is after the approval's ${view.expires_at}`);
    }
    const signer = await this.#verifiedSigner(approvalId, decision);
    // Why the role and not the caller's: the signature, not the transport, is what approves.
    if (signer.role !== 'approver') throw new ApprovalRefusal('approver_role_required', `key ${decision.key_id} belongs to ${signer.name}, a${signer.role === 'operator' ? 'n' : ''} ${signer.role}; only approvers decide approvals`);
    if (this.#authorizeSigner !== undefined) {
      const check = await this.#authorizeSigner(signer, view);
      if (!check.allowed) throw new ApprovalRefusal('approver_role_required', `policy does not let ${signer.name} approve this (${check.policyIds.length > 0 ? check.policyIds.join(', ') : 'no policy permits it'})`);
    }
    // Why the tenant too: a second principal of the requester's own tenant is the requester approving itself.
    if (signer.name === approval.requesterName || signer.agentId === approval.requesterAgentId) {
      throw new ApprovalRefusal('self_approval', `${signer.name} asked for approval ${approvalId} (or shares its tenant) and cannot decide it`);
    }
    if (decision.action_digest !== approval.actionDigest) {
      throw new ApprovalRefusal('approval_digest_mismatch', `the decision is for action ${decision.action_digest}, approval ${approvalId} is for ${approval.actionDigest}`);
    }
    const outcome = await this.#store.approvals.recordDecision({
      id: approvalId,
      decision: decision.decision,
      decidedBy: signer.name,
      keyId: decision.key_id,
      nonce: decision.nonce,
      decisionExpiresAtMs: decisionExpiresAt,
      nowMs: now,
    });
    if (outcome !== 'decided') throw new ApprovalRefusal(DECIDE_REFUSAL[outcome], `approval ${approvalId}: ${refusalText(DECIDE_REFUSAL[outcome])}`);
    return this.get(approvalId, input.submitter);
  }

  /** The principal whose active key signed `decision` for `approvalId`; approval_signature_invalid otherwise. */
  async #verifiedSigner(approvalId: string, decision: SignedDecision): Promise<ActiveKey['principal']> {
    const key = await this.#store.lookupActiveKey(decision.key_id);
    const payload: DecisionPayload = { approval_id: approvalId, action_digest: decision.action_digest, decision: decision.decision, nonce: decision.nonce, expires_at: decision.expires_at };
    // Why one answer for an unknown, revoked or wrong key: which keys exist is not the caller's to probe.
    if (key === undefined || !verifyDecisionSignature(key.publicKey, payload, decision.signature)) {
      throw new ApprovalRefusal('approval_signature_invalid', `the decision's signature does not verify with an active key ${decision.key_id}`);
    }
    return key.principal;
  }

  async list(viewer: Caller): Promise<PendingApprovalView[]> {
    const filter = viewer.role === 'agent' ? { requesterAgentId: viewer.agentId } : {};
    const now = this.#now();
    return (await this.#store.approvals.list(filter)).filter((a) => visibleTo(a, viewer)).map((a) => toView(a, now));
  }

  async get(id: string, viewer: Caller): Promise<PendingApprovalView> {
    const approval = await this.#store.approvals.get(id);
    if (approval === undefined || !visibleTo(approval, viewer)) throw new ApprovalRefusal('approval_not_found', `no approval ${id}`);
    return toView(approval, this.#now());
  }
}

function refusalText(code: ApprovalRefusalCode): string {
  return APPROVAL_REFUSAL_CODES[code];
}
