/**
 * Approvals of MCP tool calls, on the control plane's approval gate: a call that policy allows
 * only with approval opens one, bound to the RFC 8785 digest of the caller, the tool, its pinned
 * definition and the exact arguments; an approver signs it (`airlock approvals approve ID`, same
 * flow as sandbox approvals: nonce, expiry); the client retries the identical call with the
 * approval id in `params._meta["airlock/approval"]`, which redeems it once.
 */
import type { Caller } from '../admission/caller.ts';
import { actionDigest, ApprovalRefusal } from '../approvals/gate.ts';
import type { PolicyDecision } from '../policy/engine.ts';
import { decide, type ProxyContext } from './context.ts';
import { McpRefusal } from './refusal.ts';
import type { ToolView } from './tool-views.ts';

/** What an MCP approval's action digest is computed over. */
export function mcpActionDigest(caller: Caller, view: ToolView, args: Record<string, unknown>): string {
  return actionDigest({ principal: caller.name, action: 'mcp.call', server: view.server, tool: view.tool.name, definition: view.digest, arguments: args });
}

/**
 * Lets the call through only with a valid approval of exactly it: without one, opens an approval
 * and refuses with its id (`approval_required`); with one, redeems it (consumed once) or refuses.
 */
export async function requireApproval(context: Pick<ProxyContext, 'approvals' | 'engine' | 'settings'>, caller: Caller, view: ToolView, args: Record<string, unknown>, attached: unknown, decision: PolicyDecision): Promise<void> {
  const digest = mcpActionDigest(caller, view, args);
  if (attached === undefined) {
    const opened = await context.approvals.open({
      requester: caller,
      action: 'mcp.call',
      actionDigest: digest,
      // What the approver reads: the exact call, and the item policy decides on (the signer check reads it).
      summary: { server: view.server, tool: view.tool.name, definition_digest: view.digest, arguments: args, item: view.item },
      policyIds: decision.policyIds,
      reasons: decision.reasons,
    }).catch((err: unknown) => {
      throw new McpRefusal('approval_refused', `an approval could not be opened: ${(err as Error).message}`);
    });
    throw new McpRefusal('approval_required', `${decision.reasons.join('; ')}; approval ${opened.approval_id} is pending (airlock approvals approve ${opened.approval_id}), then retry the same call with params._meta["airlock/approval"] = "${opened.approval_id}"`, {
      approval_id: opened.approval_id,
      action_digest: digest,
      expires_at: opened.expires_at,
    });
  }
  if (typeof attached !== 'string') throw new McpRefusal('approval_refused', '_meta["airlock/approval"] must be an approval id (a string)');
  try {
    await context.approvals.redeem({ approvalId: attached, actionDigest: digest, requester: caller });
  } catch (err) {
    if (err instanceof ApprovalRefusal) throw new McpRefusal('approval_refused', err.message, { approval_code: err.code });
    throw err;
  }
  // Why decide again: the approval only sets context.approved; every forbid still holds.
  const approved = decide(context, caller, 'mcp.call', view.item, true);
  if (approved.decision !== 'allow') throw new McpRefusal('policy_denied', approved.reasons.join('; '), { policy_ids: approved.policyIds });
}
