/**
 * Revocation of agents, in one place: revoking records the agent in the store, writes an audit
 * record and ends every live sandbox and one-shot the agent owns (`end_reason: revoked`);
 * admission refuses the agent's new requests by asking {@link Revoker.revoked}. Unrevoking lifts it.
 * Signed lists move revocations between controllers (./signed-list.ts).
 */
import type { KeyObject } from 'node:crypto';
import type { AuditActor, AuditEvent } from '../audit/record.ts';
import type { ImportOutcome, Revocation, RevocationStore } from '../store/revocations.ts';
import { signList, verifyList, type SignedRevocationList } from './signed-list.ts';

/** What ending an agent's sandboxes reports: the ids ended. */
export interface AgentEnded {
  readonly sandboxes: readonly string[];
  readonly executions: readonly string[];
}

/** Options of {@link Revoker}. */
export interface RevokerOptions {
  readonly store: RevocationStore;
  /** Ends every live sandbox and one-shot of an agent (the sandbox service's `endAgent`). */
  readonly endAgent: (agentId: string) => Promise<AgentEnded>;
  /** Where revocations are recorded; without it, nothing is. */
  readonly audit?: { append(event: AuditEvent): Promise<unknown> } | undefined;
  /** The controller key: signs exported lists. */
  readonly controllerKey?: KeyObject | undefined;
  /** Keys whose lists may be imported. */
  readonly trustedKeys?: readonly KeyObject[] | undefined;
  /** Oldest list accepted, ms (default a day). */
  readonly maxListAgeMs?: number | undefined;
  readonly now?: () => number;
}

/** The answer to a revoke. */
export interface Revoked {
  readonly revocation: Revocation;
  /** False when the agent was already revoked (its first revocation stands; its sandboxes are ended again). */
  readonly created: boolean;
  readonly ended: AgentEnded;
}

/** An actor for records made by the controller itself (automatic revocation, imports). */
export const CONTROLLER_ACTOR: AuditActor = Object.freeze({ name: 'controller', role: 'controller', agent_id: 'controller' });

/** Revokes, unrevokes, exports and imports; one per controller. */
export class Revoker {
  readonly #o: RevokerOptions;
  readonly #now: () => number;

  constructor(options: RevokerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** The revocation of `agentId`, or undefined: the admission step's question. */
  revoked(agentId: string): Promise<Revocation | undefined> {
    return this.#o.store.get(agentId);
  }

  /** Every revocation. */
  list(): Promise<Revocation[]> {
    return this.#o.store.list();
  }

  /**
   * Revokes `agentId` and ends its live sandboxes. Stored and recorded first: from the moment the
   * store has it, admission refuses the agent, so nothing new starts while the old ones are ended.
   */
  async revoke(agentId: string, reason: string, actor: AuditActor): Promise<Revoked> {
    const stored = await this.#o.store.revoke({ agentId, reason, revokedBy: actor.name, revokedAtMs: this.#now() });
    const revocation = stored ?? (await this.#o.store.get(agentId));
    if (revocation === undefined) throw new Error(`agent ${agentId}: revocation not stored`);
    // Why end them even when it was revoked already: a sandbox admitted just before must not outlive the revocation.
    const ended = await this.#o.endAgent(agentId);
    await this.#record({ kind: 'agent.revoked', agentId, actor, data: { reason: revocation.reason, revoked_by: revocation.revokedBy, new: stored !== undefined, sandboxes_ended: [...ended.sandboxes], executions_ended: [...ended.executions] } });
    return { revocation, created: stored !== undefined, ended };
  }

  /** Lifts the revocation of `agentId`; false when it was not revoked. */
  async unrevoke(agentId: string, actor: AuditActor): Promise<boolean> {
    const lifted = await this.#o.store.unrevoke(agentId);
    if (lifted) await this.#record({ kind: 'agent.unrevoked', agentId, actor, data: {} });
    return lifted;
  }

  /** This controller's own revocations as a signed list, numbered with the store's sequence. */
  async exportList(): Promise<SignedRevocationList> {
    const key = this.#o.controllerKey;
    if (key === undefined) throw new Error('this controller has no controller key to sign a revocation list with');
    return signList({ key, sequence: await this.#o.store.sequence(), revocations: await this.#o.store.list(), nowMs: this.#now() });
  }

  /**
   * Verifies and applies another controller's list (throws ListRefusal or the store's `stale_list`),
   * then ends the live sandboxes of every agent it newly revokes.
   */
  async importList(input: unknown, actor: AuditActor): Promise<ImportOutcome & { issuer: string; sequence: number }> {
    const verified = verifyList(input, this.#o.trustedKeys ?? [], { nowMs: this.#now(), maxAgeMs: this.#o.maxListAgeMs ?? 86_400_000 });
    const outcome = await this.#o.store.importList(verified);
    for (const agentId of outcome.added) await this.#o.endAgent(agentId);
    await this.#record({ kind: 'revocations.imported', agentId: null, actor, data: { issuer: verified.issuer, sequence: verified.sequence, added: [...outcome.added], removed: [...outcome.removed] } });
    return { ...outcome, issuer: verified.issuer, sequence: verified.sequence };
  }

  async #record(event: AuditEvent): Promise<void> {
    await this.#o.audit?.append(event);
  }
}
