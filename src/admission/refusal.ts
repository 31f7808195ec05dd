/**
 * A refused request: which admission step refused it, with a code of its own and a reason fit to
 * return to the caller. Front ends answer it (the API maps the code to a status in
 * src/api/error-codes.ts; the CLI prints it); nothing downstream ran.
 */
import type { SignatureRefusalCode } from '../signing/refusal.ts';

/** The steps of admission, in the order they run. */
export const ADMISSION_STEPS = ['authenticate', 'signature', 'revocation', 'authorize', 'contract', 'image', 'approval', 'limits', 'audit'] as const;
export type AdmissionStep = (typeof ADMISSION_STEPS)[number];

/** Codes admission itself raises (the signature step raises the verifier's codes). */
export const ADMISSION_REFUSAL_CODES = {
  authentication_required: 'The request carries no credentials this listener accepts: sign it (RFC 9421, a registered key) or use the unix socket.',
  local_user_unknown: 'The unix-socket caller\'s uid maps to no principal (auth.localUsers).',
  peer_credentials_unavailable: 'The caller\'s uid on the unix socket could not be read; the request is refused rather than guessed.',
  forbidden: 'Policy denies this request; the message names the deciding policies.',
  contract_violation: 'The request goes beyond its owner\'s behavior contract; the message names the clause.',
  agent_revoked: 'The calling agent (or the agent the sandbox is for) is revoked: it may ask for nothing until an operator unrevokes it.',
  approval_unavailable: 'Policy requires a signed approval, and this controller has no approval gate.',
  image_refused: 'The image policy (imagePolicy) refuses the image: its origin is not allowed, or it needs a signature by a trusted key and has none that verifies; the message names the rule.',
  audit_unavailable: 'The audit log could not record the decision (its store cannot be written); nothing runs unrecorded.',
} as const;
export type AdmissionRefusalCode = keyof typeof ADMISSION_REFUSAL_CODES;

/** A refusal by one step of admission. */
export class AdmissionRefusal extends Error {
  override readonly name = 'AdmissionRefusal';
  readonly step: AdmissionStep;
  readonly code: AdmissionRefusalCode | SignatureRefusalCode;
  /** `@id`s of the policies that decided (authorize only). */
  readonly policyIds: readonly string[];

  constructor(step: AdmissionStep, code: AdmissionRefusalCode | SignatureRefusalCode, message: string, policyIds: readonly string[] = []) {
    super(message);
    this.step = step;
    this.code = code;
    this.policyIds = policyIds;
  }
}
