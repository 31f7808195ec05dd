/**
 * Requests that policy sends to a human, from the CLI: a command answered `202 approval_required`
 * prints the approval id, the action digest, the expiry and how to approve, and exits 3; `--approval
 * ID` repeats it on the approved approval; `--wait` waits for the decision and repeats it itself.
 */
import { checkApprovalId } from '../../sdk/approval-required.ts';
import type { AirlockClient } from '../../sdk/client.ts';
import { AirlockError, ApprovalRequiredError } from '../../sdk/errors.ts';
import { withApproval } from '../../sdk/with-approval.ts';
import { terminalSafe, terminalSafeJson } from './terminal-text.ts';
import { UsageError } from './usage-error.ts';
import type { ApprovalFlags } from './approval-flags.ts';

/** Exit code of a command whose request waits for an approver's decision (and `--wait` was not given). */
export const APPROVAL_REQUIRED_EXIT = 3;
/** Exit code when waiting for a decision was interrupted (the approval stays pending). */
export const INTERRUPTED_EXIT = 130;
/** Time between polls of the approval while `--wait`ing, ms. */
const WAIT_POLL_MS = 1000;

/** The `--approval` value, checked before anything is sent; undefined when not given. */
export function approvalFlag(flags: ApprovalFlags): string | undefined {
  if (flags.approval === undefined) return undefined;
  try {
    return checkApprovalId(flags.approval);
  } catch (err) {
    throw new UsageError(`--approval: ${(err as Error).message.replace(/^approvalId: /, '')}`);
  }
}

/** What to tell a person about a pending approval: its id, digest, expiry, why, and how to go on. */
export function formatPending(pending: ApprovalRequiredError, options: { wait: boolean; raw?: boolean | undefined }): string {
  const safe = (text: string) => terminalSafe(text, { raw: options.raw === true });
  const a = pending.approval;
  const id = safe(pending.approvalId);
  const lines = [
    `approval required: ${safe(a.reasons.join('; ') || 'policy asks for a signed approval')}`,
    `  approval:  ${id}`,
    `  digest:    ${safe(pending.actionDigest)}`,
    `  expires:   ${safe(a.expires_at)}`,
    `  policies:  ${safe(a.policy_ids.join(', ') || '-')}`,
    `an approver runs: airlock approvals approve ${id} --key approver.key`,
    options.wait
      ? 'waiting for the decision (Ctrl-C stops waiting; the approval stays pending)'
      : `once approved, repeat this exact command with --approval ${id} (or run it with --wait)`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Resolves on SIGINT/SIGTERM by aborting: the wait stops, the approval stays pending. */
function interruptSignal(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new AirlockError('interrupted while waiting for the approval', { code: 'interrupted' }));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/**
 * Runs `run` (a command's request, returning its exit code) with the approval flags: on the given
 * `--approval`, or without one; when the server sends it to an approver, prints the pending
 * approval and returns {@link APPROVAL_REQUIRED_EXIT}, or with `--wait` waits for the decision and
 * runs it again on the approval. A denied or expired approval is an error naming it (exit 1).
 */
export async function runWithApproval(client: AirlockClient, flags: ApprovalFlags, run: (approvalId: string | undefined) => Promise<number>): Promise<number> {
  const given = approvalFlag(flags);
  if (flags.wait !== true || given !== undefined) {
    try {
      return await run(given);
    } catch (err) {
      if (!(err instanceof ApprovalRequiredError)) throw err;
      process.stderr.write(formatPending(err, { wait: false, raw: flags.raw }));
      if (flags.json === true) process.stdout.write(`${terminalSafeJson({ status: 'approval_required', approval: err.approval, action_digest: err.actionDigest })}\n`);
      return APPROVAL_REQUIRED_EXIT;
    }
  }
  const interrupt = interruptSignal();
  let pendingId: string | undefined;
  try {
    return await withApproval(
      client,
      async (approvalId) => {
        // The retry runs with the command's own signal handling (exec kills its command on Ctrl-C).
        if (approvalId !== undefined) {
          interrupt.dispose();
          process.stderr.write(`approved: running it on approval ${terminalSafe(approvalId)}\n`);
        }
        return run(approvalId);
      },
      {
        signal: interrupt.signal,
        pollMs: WAIT_POLL_MS,
        onPending: (pending) => {
          pendingId = pending.approvalId;
          process.stderr.write(formatPending(pending, { wait: true, raw: flags.raw }));
        },
      },
    );
  } catch (err) {
    if (!interrupt.signal.aborted || pendingId === undefined || err !== interrupt.signal.reason) throw err;
    process.stderr.write(`airlock: stopped waiting; approval ${terminalSafe(pendingId)} is still pending: once approved, repeat the command with --approval ${terminalSafe(pendingId)}\n`);
    return INTERRUPTED_EXIT;
  } finally {
    interrupt.dispose();
  }
}
