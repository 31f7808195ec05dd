/**
 * Cedar's say on who may decide an approval: the `approve` action, asked for the signer of a
 * decision on the sandbox the approval is about. Plugged into the gate as `authorizeSigner`; the
 * gate's own checks (approver role, no self-approval, signature) hold whatever the policies say.
 */
import type { PolicyEngine } from '../policy/engine.ts';
import type { McpItem, PolicyRequest, PolicySettings } from '../policy/request.ts';
import { isMcpAction, MCP_APPROVE_ACTION } from '../policy/request.ts';
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
    const principal = { role: signer.role, id: signer.agentId, groups: signer.groups };
    if (isMcpAction(approval.action)) {
      // An MCP call's approval is decided on the tool it calls (recorded by the MCP proxy in its summary).
      const mcp = mcpItemOf(approval.summary);
      if (mcp === undefined) return { allowed: false, policyIds: [] };
      const decision = engine.evaluate({ principal, action: MCP_APPROVE_ACTION, mcp, settings });
      return { allowed: decision.decision === 'allow', policyIds: decision.policyIds };
    }
    const sandbox = await sandboxOf(approval);
    if (sandbox === undefined) return { allowed: false, policyIds: [] };
    const decision = engine.evaluate({ principal: { role: signer.role, id: signer.agentId, groups: signer.groups }, action: 'approve', sandbox, settings });
    return { allowed: decision.decision === 'allow', policyIds: decision.policyIds };
  };
}

/** The MCP item an approval's summary names (`summary.item`); undefined, so the check fails closed, when it names none. */
function mcpItemOf(summary: unknown): McpItem | undefined {
  const item = (summary as { item?: Partial<McpItem> } | null)?.item;
  if (item === undefined || item === null || typeof item !== 'object') return undefined;
  const { server, name, kind, destructive, readOnly } = item;
  if (typeof server !== 'string' || typeof name !== 'string' || (kind !== 'tool' && kind !== 'prompt' && kind !== 'resource') || typeof destructive !== 'boolean' || typeof readOnly !== 'boolean') return undefined;
  return { server, name, kind, destructive, readOnly };
}
