/**
 * Ed25519 signatures over a decision's canonical payload (see digest.ts): made by `airlock approvals
 * approve|deny` and tests, verified by the gate. The signature travels as base64url without padding.
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { assertEd25519 } from '../signing/keys.ts';
import { decisionSigningInput, type DecisionPayload } from './digest.ts';

/** An Ed25519 signature in base64url without padding: 64 bytes, 86 characters. */
export const DECISION_SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;

/** Signs `payload` with an Ed25519 private key; returns the base64url signature. */
export function signDecision(privateKey: KeyObject, payload: DecisionPayload): string {
  assertEd25519(privateKey, 'private', 'the approver key');
  return sign(null, decisionSigningInput(payload), privateKey).toString('base64url');
}

/**
 * Whether `signature` is a valid Ed25519 signature of `payload` by `publicKey`. False, never a
 * throw, for anything malformed.
 */
export function verifyDecisionSignature(publicKey: KeyObject, payload: DecisionPayload, signature: string): boolean {
  if (!DECISION_SIGNATURE_PATTERN.test(signature)) return false;
  const bytes = Buffer.from(signature, 'base64url');
  // Why the round trip: base64url has several spellings of the same bytes; only the canonical one counts.
  if (bytes.length !== 64 || bytes.toString('base64url') !== signature) return false;
  if (publicKey.type !== 'public' || publicKey.asymmetricKeyType !== 'ed25519') return false;
  try {
    return verify(null, decisionSigningInput(payload), publicKey, bytes);
  } catch {
    return false;
  }
}
