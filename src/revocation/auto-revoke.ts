/**
 * Automatic revocation: an agent whose sandboxes raise `violations` HIGH or CRITICAL violations
 * within `windowSeconds` is revoked like an operator would (its sandboxes end, its requests are
 * refused) until an operator unrevokes it. Counts are kept per agent, in memory: a restart forgets
 * them, never a revocation.
 */
import type { SecurityViolation } from '../sandbox/result.ts';
import { CONTROLLER_ACTOR, type Revoker } from './revoker.ts';

/** Options of {@link autoRevoker}. */
export interface AutoRevokeOptions {
  readonly revoker: Pick<Revoker, 'revoke'>;
  /** Violations that revoke; 0 turns it off. */
  readonly violations: number;
  readonly windowSeconds: number;
  /** The owner of a sandbox by id, when still known. */
  readonly ownerOf: (sandboxId: string) => string | undefined;
  readonly onError: (err: unknown, agentId: string) => void;
  readonly now?: () => number;
}

const SERIOUS = new Set(['HIGH', 'CRITICAL']);

/** A `violationRecorded` observer hook that revokes at the threshold. */
export function autoRevoker(options: AutoRevokeOptions): { violationRecorded(violation: SecurityViolation): void } {
  const seen = new Map<string, number[]>();
  const now = options.now ?? Date.now;
  return {
    violationRecorded(violation) {
      if (options.violations === 0 || !SERIOUS.has(violation.severity)) return;
      const sandboxId = violation.indicators['sandbox_id'];
      const agentId = typeof sandboxId === 'string' ? options.ownerOf(sandboxId) : undefined;
      // Why skip an unowned sandbox (a pooled one before checkout): there is no agent to hold responsible.
      if (agentId === undefined || agentId === '') return;
      const at = now();
      const recent = (seen.get(agentId) ?? []).filter((t) => at - t < options.windowSeconds * 1000);
      recent.push(at);
      seen.set(agentId, recent);
      if (recent.length < options.violations) return;
      seen.delete(agentId);
      const reason = `automatic: ${recent.length} HIGH or CRITICAL violations within ${options.windowSeconds}s (last: ${violation.violation_type})`;
      options.revoker.revoke(agentId, reason, CONTROLLER_ACTOR).catch((err: unknown) => options.onError(err, agentId));
    },
  };
}
