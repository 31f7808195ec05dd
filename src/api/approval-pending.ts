/**
 * A request that policy sends to a human: not an error, but it ends the route the same way, so
 * the error handler answers it, once, as 202 with the pending approval and its action digest.
 */

/** Thrown when a request waits for a signed approval: the error handler answers 202 with it. */
export class ApprovalPending extends Error {
  override readonly name = 'ApprovalPending';
  readonly approval: unknown;
  readonly actionDigest: string;
  constructor(approval: unknown, actionDigest: string) {
    super('this request needs a signed approval');
    this.approval = approval;
    this.actionDigest = actionDigest;
  }
}
