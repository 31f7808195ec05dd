/** The form of a submitted decision, checked before anything is looked up. */
import { ApprovalRefusal } from './refusal.ts';
import { ACTION_DIGEST_PATTERN, DECISIONS, type Decision } from './digest.ts';
import { DECISION_SIGNATURE_PATTERN } from './decision-signature.ts';

/** A decision as an approver submits it: the signed fields (but the approval id, from the path), the key id and the signature. */
export interface SignedDecision {
  readonly decision: Decision;
  readonly action_digest: string;
  readonly nonce: string;
  /** ISO 8601 UTC, e.g. `2026-12-06T10:15:00.000Z`; exactly the string that was signed. */
  readonly expires_at: string;
  /** RFC 7638 thumbprint of the approver's registered key. */
  readonly key_id: string;
  /** base64url Ed25519 signature of the canonical payload. */
  readonly signature: string;
}

/** A nonce: 16 to 128 base64url characters (at least 96 random bits from a real client). */
export const DECISION_NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
/** A key id: a SHA-256 thumbprint in base64url. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** A UTC time in ISO 8601 as toISOString writes it (milliseconds optional). */
export const UTC_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** Milliseconds of a strict ISO 8601 UTC time, or undefined (also for an impossible date such as Feb 30). */
export function parseUtcTime(text: string): number | undefined {
  if (!UTC_TIME_PATTERN.test(text)) return undefined;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return undefined;
  return new Date(ms).toISOString().slice(0, 19) === text.slice(0, 19) ? ms : undefined;
}

/** Checks every field's form; returns the decision's expiry in ms. Throws approval_decision_invalid naming each bad field. */
export function checkDecisionForm(input: SignedDecision): number {
  const problems: string[] = [];
  if (!(DECISIONS as readonly string[]).includes(input.decision)) problems.push('decision must be approve or deny');
  if (typeof input.action_digest !== 'string' || !ACTION_DIGEST_PATTERN.test(input.action_digest)) problems.push('action_digest must be sha256:<64 hex digits>');
  if (typeof input.nonce !== 'string' || !DECISION_NONCE_PATTERN.test(input.nonce)) problems.push('nonce must be 16 to 128 base64url characters');
  if (typeof input.key_id !== 'string' || !KEY_ID_PATTERN.test(input.key_id)) problems.push('key_id must be a key thumbprint (43 base64url characters)');
  if (typeof input.signature !== 'string' || !DECISION_SIGNATURE_PATTERN.test(input.signature)) problems.push('signature must be 86 base64url characters (an Ed25519 signature)');
  const expiresAt = typeof input.expires_at === 'string' ? parseUtcTime(input.expires_at) : undefined;
  if (expiresAt === undefined) problems.push('expires_at must be an ISO 8601 UTC time such as 2026-12-06T10:15:00.000Z');
  if (problems.length > 0 || expiresAt === undefined) throw new ApprovalRefusal('approval_decision_invalid', `invalid decision: ${problems.join('; ')}`);
  return expiresAt;
}
