/**
 * Wire schemas of approvals (`/api/v1/approvals`): the approval as callers see it and an approver's
 * signed decision. Same rules as `schemas.ts`: strict request objects, OpenAPI generated from these.
 */
import { z } from 'zod';
import { ACTION_DIGEST_PATTERN, DECISIONS } from '../approvals/digest.ts';
import { DECISION_NONCE_PATTERN, KEY_ID_PATTERN, UTC_TIME_PATTERN } from '../approvals/decision-input.ts';
import { DECISION_SIGNATURE_PATTERN } from '../approvals/decision-signature.ts';
import { MCP_ACTIONS, POLICY_ACTIONS } from '../policy/request.ts';

/** An approval id in a path: the gate answers 404 for one it does not know. */
export const ApprovalIdParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'invalid approval id').describe('Approval id (apr_…).') }).strict();

const ActionDigest = z.string().regex(ACTION_DIGEST_PATTERN, 'sha256: and 64 lowercase hex digits');

export const ApprovalInfo = z
  .object({
    approval_id: z.string(),
    state: z.enum(['pending', 'approved', 'denied', 'consumed', 'expired']).describe('expired is computed from the stored expiry on every read.'),
    action: z.enum([...POLICY_ACTIONS, ...MCP_ACTIONS]),
    sandbox_id: z.string().nullable(),
    action_digest: ActionDigest.describe('SHA-256 of the RFC 8785 canonical JSON of the admitted request: what an approver signs.'),
    requester: z.object({ name: z.string(), agent_id: z.string() }),
    summary: z.unknown().describe('The resolved request, as admission gave it, for the approver to read.'),
    policy_ids: z.array(z.string()).describe('The policies that asked for the approval.'),
    reasons: z.array(z.string()),
    created_at: z.string(),
    expires_at: z.string().describe('The approval is void after this time (approvals.ttlSeconds after it was opened).'),
    decided_by: z.string().nullable().describe('Principal whose key signed the decision.'),
    decided_at: z.string().nullable(),
    decision_expires_at: z.string().nullable().describe("The signed decision's own expiry; an approved request can be retried until the earlier of the two."),
  })
  .describe('An approval: a request that runs only once an approver has signed a decision on exactly it.');

export const ApprovalList = z.object({ approvals: z.array(ApprovalInfo), total_count: z.number().int() });

export const ApprovalDecisionRequest = z
  .object({
    decision: z.enum(DECISIONS),
    action_digest: ActionDigest.describe('Must equal the approval\'s action_digest.'),
    nonce: z.string().regex(DECISION_NONCE_PATTERN, '16 to 128 base64url characters').describe('Unique per decision; a nonce is never accepted twice.'),
    expires_at: z.string().regex(UTC_TIME_PATTERN, 'an ISO 8601 UTC time, e.g. 2026-12-06T10:15:00.000Z').describe("The decision's expiry, at most the approval's."),
    key_id: z.string().regex(KEY_ID_PATTERN, 'a key thumbprint: 43 base64url characters').describe("RFC 7638 thumbprint of the approver's registered Ed25519 key."),
    signature: z
      .string()
      .regex(DECISION_SIGNATURE_PATTERN, 'an Ed25519 signature: 86 base64url characters')
      .describe('base64url Ed25519 signature of the RFC 8785 canonical JSON of {approval_id, action_digest, decision, nonce, expires_at}.'),
  })
  .strict()
  .describe("An approver's signed decision; the approval id comes from the path and is part of what is signed.");

