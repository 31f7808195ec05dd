/**
 * Cedar's say on who may decide an approval: the `approve` action, asked for the signer of a
 * decision on the sandbox the approval is about. Plugged into the gate as `authorizeSigner`; the
 * gate's own checks (approver role, no self-approval, signature) hold whatever the policies say.
 */
import type { PolicyEngine } from '../policy/engine.ts';
import type { PolicyRequest, PolicySettings } from '../policy/request.ts';
import type { SignerCheck, StoreApprovalGateOptions } from './gate.ts';
import type { PendingApprovalView } from './view.ts';

/** The sandbox an approval is about, as policy sees it; undefined when there is none to decide on. */
export type ApprovalSandboxOf = (approval: PendingApprovalView) => PolicyRequest['sandbox'] | Promise<PolicyRequest['sandbox']>;

/**
 * An `authorizeSigner` that asks `engine` whether the signer may `approve` on the approval's
 * sandbox. Only `allow` allows. Why fail closed without a sandbox: a policy that decides on the
 * sandbox cannot be honoured without one.
 */
export function cedarSignerCheck(engine: Pick<PolicyEngine, 'evaluate'>, settings: PolicySettings, sandboxOf: ApprovalSandboxOf): NonNullable<StoreApprovalGateOptions['authorizeSigner']> {
  return async (signer, approval): Promise<SignerCheck> => {
    const sandbox = await sandboxOf(approval);
    if (sandbox === undefined) return { allowed: false, policyIds: [] };
    const decision = engine.evaluate({ principal: { role: signer.role, id: signer.agentId, groups: signer.groups }, action: 'approve', sandbox, settings });
    return { allowed: decision.decision === 'allow', policyIds: decision.policyIds };
  };
}
