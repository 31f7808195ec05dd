/**
 * The transport's side of approvals: the `Airlock-Approval` header a retried request names its
 * approval in, and the reading of a `202 approval_required` answer into `ApprovalRequiredError`.
 */
import type { ApprovalInfo } from './approvals.ts';
import { AirlockError, ApprovalRequiredError } from './errors.ts';

/** Header a retried request names its approval in. */
export const APPROVAL_HEADER = 'airlock-approval';

/** Approval ids as the server issues them (`apr_…`). */
const APPROVAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** `id` when it can be an approval id; an `invalid_argument` error (nothing sent) otherwise. */
export function checkApprovalId(id: unknown): string {
  // Why: the id goes into a header; anything but the server's alphabet is refused before sending.
  if (typeof id !== 'string' || !APPROVAL_ID_PATTERN.test(id)) {
    throw new AirlockError(`approvalId: ${JSON.stringify(String(id)).slice(0, 80)} is not an approval id (1 to 64 of A-Z a-z 0-9 _ -)`, { code: 'invalid_argument' });
  }
  return id;
}

function isApproval(value: unknown): value is ApprovalInfo {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Record<string, unknown>;
  return (
    typeof a['approval_id'] === 'string' &&
    APPROVAL_ID_PATTERN.test(a['approval_id']) &&
    typeof a['action_digest'] === 'string' &&
    DIGEST_PATTERN.test(a['action_digest']) &&
    typeof a['expires_at'] === 'string' &&
    !Number.isNaN(Date.parse(a['expires_at'])) &&
    Array.isArray(a['reasons'])
  );
}

/**
 * The error for a 2xx answer that is not a success: `202 {"status":"approval_required", "approval",
 * "action_digest"}` becomes `ApprovalRequiredError`; any other 202 is `invalid_response`.
 */
export async function approvalRequiredFrom(response: Response, what: string): Promise<AirlockError> {
  const requestId = response.headers.get('x-request-id') ?? undefined;
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const { status, approval, action_digest: digest } = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  // Why fail closed: a 202 means nothing ran, so a body that can't be read is never taken as success.
  if (status !== 'approval_required' || !isApproval(approval) || digest !== approval.action_digest) {
    return new AirlockError(`${what}: answered 202 without a readable pending approval (nothing was done): ${text.slice(0, 100)}`, { code: 'invalid_response', status: 202, requestId });
  }
  return new ApprovalRequiredError(approval, { requestId });
}
