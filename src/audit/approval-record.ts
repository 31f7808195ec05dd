/**
 * Approvals in the audit log: an approver's signed decision is recorded (with its signature, so the
 * log itself proves who consented to what) before the decision is answered. Opening an approval is
 * admission's record (outcome `approval_required`); using one is the retried request's.
 */
import type { ApprovalGate } from '../approvals/gate.ts';
import type { AuditEvent } from './record.ts';

/** `gate` with every decision recorded in `audit` before it is answered. */
export function recordedApprovalGate(gate: ApprovalGate, audit: { append(event: AuditEvent): Promise<unknown> }): ApprovalGate {
  return {
    open: (input) => gate.open(input),
    redeem: (input) => gate.redeem(input),
    list: (viewer) => gate.list(viewer),
    get: (id, viewer) => gate.get(id, viewer),
    async decide(input) {
      const view = await gate.decide(input);
      const { submitter, decision } = input;
      await audit.append({
        kind: 'approval.decided',
        agentId: view.requester.agent_id,
        sandboxId: view.sandbox_id,
        actor: { name: submitter.name, role: submitter.role, agent_id: submitter.agentId },
        data: {
          approval_id: view.approval_id,
          action: view.action,
          action_digest: view.action_digest,
          decision: decision.decision,
          state: view.state,
          decided_by: view.decided_by,
          key_id: decision.key_id,
          nonce: decision.nonce,
          expires_at: decision.expires_at,
          signature: decision.signature,
        },
      });
      return view;
    },
  };
}
