/**
 * Refusals of the approval gate, each with its own code and a reason fit for the caller. The API
 * gives each code its HTTP status in src/api/error-codes.ts; the gate knows nothing of HTTP.
 */

/** Every code the approval gate refuses with, and what it means. */
export const APPROVAL_REFUSAL_CODES = {
  approval_not_found: 'No approval with this id that the caller may see (another tenant\'s approval is answered the same way).',
  approval_expired: 'The approval, or the signed decision, is past its expiry; ask for a new approval.',
  approval_signature_invalid: 'The decision\'s signature does not verify with the named key, or the key is unknown or revoked.',
  approver_role_required: 'The key that signed the decision belongs to a principal without the approver role.',
  self_approval: 'The signer of the decision is the principal (or tenant) that asked for the approval.',
  approval_digest_mismatch: 'The action digest differs from the approved one: the request changed, and needs a new approval.',
  approval_nonce_replayed: 'The decision\'s nonce was used by an earlier decision: a replay.',
  approval_already_decided: 'The approval has already been approved or denied.',
  approval_pending: 'The approval has not been decided yet; retry once an approver has approved it.',
  approval_denied: 'An approver denied this approval.',
  approval_reused: 'The approval was already used by an earlier request; each approval admits one request.',
  approval_decision_invalid: 'The decision is malformed: its expiry is not an ISO 8601 UTC time or lies after the approval\'s, or a field is out of range.',
} as const;

/** A code of {@link ApprovalRefusal}. */
export type ApprovalRefusalCode = keyof typeof APPROVAL_REFUSAL_CODES;

/** A refusal of the approval gate; nothing was changed when it is thrown. */
export class ApprovalRefusal extends Error {
  override readonly name = 'ApprovalRefusal';
  readonly code: ApprovalRefusalCode;

  constructor(code: ApprovalRefusalCode, message: string = APPROVAL_REFUSAL_CODES[code]) {
    super(message);
    this.code = code;
  }
}
