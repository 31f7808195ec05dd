/** Signed approvals: the gate admission calls, the digests and signatures approvals are bound to. */
export { StoreApprovalGate, DEFAULT_APPROVAL_TTL_SECONDS, type ApprovalGate, type OpenApprovalInput, type SignerCheck, type StoreApprovalGateOptions } from './gate.ts';
export { cedarSignerCheck, type ApprovalSandboxOf } from './cedar-signer.ts';
export { actionDigest, decisionSigningInput, DECISIONS, type Decision, type DecisionPayload } from './digest.ts';
export { signDecision, verifyDecisionSignature } from './decision-signature.ts';
export type { SignedDecision } from './decision-input.ts';
export { APPROVAL_REFUSAL_CODES, ApprovalRefusal, type ApprovalRefusalCode } from './refusal.ts';
export type { ApprovalState, ApprovalView, PendingApprovalView } from './view.ts';
