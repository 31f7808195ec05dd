/**
 * `withApproval`: runs a call that policy may send to a human, and when it does, tells the app (so
 * it can notify an approver), waits for the decision and runs the call again on the approval.
 */
import { waitForApproval, type ApprovalInfo } from './approvals.ts';
import type { AirlockClient } from './client.ts';
import { ApprovalDeniedError, ApprovalExpiredError, ApprovalRefusedError, ApprovalRequiredError } from './errors.ts';

/** Options of {@link withApproval}. */
export interface WithApprovalOptions {
  /**
   * Called once the call was sent to an approver, before waiting: notify a human here (the error
   * carries `approvalId`, `actionDigest`, `expiresAt` and the approval). A rejection stops the wait.
   */
  onPending?: ((pending: ApprovalRequiredError) => void | Promise<void>) | undefined;
  /** Stops waiting for the decision (rejects with the signal's reason); pass it to the call in `fn` too. */
  signal?: AbortSignal | undefined;
  /** Time between polls of the approval, ms (default 1000). */
  pollMs?: number | undefined;
}

/** The typed error for an approval that ended without being approved. */
function notApproved(approval: ApprovalInfo): ApprovalRefusedError {
  const id = approval.approval_id;
  switch (approval.state) {
    case 'denied':
      return new ApprovalDeniedError(`approval ${id} was denied${approval.decided_by === null ? '' : ` by ${approval.decided_by}`}; the request was not run`, { code: 'approval_denied', approval });
    case 'expired':
      return new ApprovalExpiredError(`approval ${id} expired at ${approval.expires_at} before it was approved and used; the request was not run`, { code: 'approval_expired', approval });
    case 'consumed':
    case 'approved':
    case 'pending':
      return new ApprovalRefusedError(`approval ${id} is ${approval.state}: it was already used by an earlier request`, { code: 'approval_reused', approval });
  }
}

/**
 * Runs `fn(undefined)`. When it throws `ApprovalRequiredError`, calls `onPending` with it, waits
 * (polling with `client`, which must be able to read the approval: the requester's own client is)
 * until an approver decides, and, when approved, returns `fn(approvalId)`: `fn` must then make
 * exactly the same call with `{ approvalId }`, or the server refuses it (`approval_digest_mismatch`).
 * Denied: `ApprovalDeniedError`; expired: `ApprovalExpiredError`; any other error of `fn` passes
 * through untouched. One approval per call: if the retry is itself sent to an approver (`fn` made
 * another call that needs one), that `ApprovalRequiredError` propagates.
 *
 * @example
 * const sandbox = await withApproval(client, (approvalId) => Sandbox.create({ client, network_policy: 'full', approvalId }), {
 *   onPending: (p) => notify(`approve ${p.approvalId}: airlock approvals approve ${p.approvalId} --key approver.key`),
 * });
 */
export async function withApproval<T>(client: AirlockClient, fn: (approvalId: string | undefined) => Promise<T>, options: WithApprovalOptions = {}): Promise<T> {
  let pending: ApprovalRequiredError;
  try {
    return await fn(undefined);
  } catch (err) {
    if (!(err instanceof ApprovalRequiredError)) throw err;
    pending = err;
  }
  await options.onPending?.(pending);
  const decided = await waitForApproval(client, pending.approvalId, { signal: options.signal, pollMs: options.pollMs });
  // Why only `approved` runs: a denied, expired or used approval never lets the call through.
  if (decided.state !== 'approved') throw notApproved(decided);
  return fn(pending.approvalId);
}
