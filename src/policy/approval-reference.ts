/**
 * Whether a policy reads `context.approved`. Only policies marked `@approval("required")` may: then
 * every other policy decides the same with or without an approval, which is what lets the engine
 * tell "allowed" from "allowed once approved" in one evaluation.
 */
import type { CedarTypes } from './cedar.ts';

const APPROVED = 'approved';

function isContext(node: unknown): boolean {
  return typeof node === 'object' && node !== null && (node as { Var?: unknown }).Var === 'context';
}

/**
 * True when the policy's conditions read `context.approved` (as `.approved`, `["approved"]` or
 * `has approved`) or use `context` as a whole (which could compare it, approval included).
 */
export function readsApproval(policy: CedarTypes.PolicyJson): boolean {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || typeof node !== 'object' || node === null) return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const access = value as { left?: unknown; attr?: unknown };
      if ((key === '.' || key === 'has') && typeof access === 'object' && access !== null && isContext(access.left)) {
        const attrs = Array.isArray(access.attr) ? access.attr : [access.attr];
        if (attrs[0] === APPROVED) found = true;
        continue;
      }
      if (isContext(value)) {
        found = true;
        return;
      }
      visit(value);
    }
  };
  visit(policy.conditions);
  return found;
}
