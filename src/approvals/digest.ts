/**
 * What approvals are bound to: the action digest of an admitted request, and the exact bytes an
 * approver signs. Both are RFC 8785 (JSON Canonicalization Scheme) serializations, so any client
 * in any language that canonicalizes the same JSON signs and digests the same bytes.
 */
import { canonicalDigest, canonicalJson } from '../signing/canonical-json.ts';

/** Form of an action digest: `sha256:` and 64 lowercase hex digits. */
export const ACTION_DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * `sha256:<hex>` of the RFC 8785 canonical JSON of the admitted request (principal, action and every
 * resolved parameter). Why canonical: two requests that mean the same get the same digest whatever
 * their key order, and any changed parameter gives another one, which needs a new approval.
 */
export function actionDigest(admitted: unknown): string {
  return canonicalDigest(admitted);
}

/** The decisions an approver can sign. */
export const DECISIONS = ['approve', 'deny'] as const;
export type Decision = (typeof DECISIONS)[number];

/** The signed fields of a decision, exactly as the approver signs them. */
export interface DecisionPayload {
  readonly approval_id: string;
  readonly action_digest: string;
  readonly decision: Decision;
  /** Unique per decision: a decision is never accepted twice. */
  readonly nonce: string;
  /** ISO 8601 UTC time after which the decision is void; at most the approval's expiry. */
  readonly expires_at: string;
}

/**
 * The UTF-8 bytes an approver signs with Ed25519: the RFC 8785 canonical JSON of exactly the five
 * payload fields (nothing else a client sends is covered, so nothing else is trusted).
 */
export function decisionSigningInput(payload: DecisionPayload): Buffer {
  const { approval_id, action_digest, decision, nonce, expires_at } = payload;
  return Buffer.from(canonicalJson({ approval_id, action_digest, decision, nonce, expires_at }), 'utf8');
}
