/**
 * Revoked agents in the store: which tenancy ids may no longer ask for anything, why, and since
 * when. Each entry is either this controller's own (`source: local`) or came in a signed list of
 * another controller (`source`: that controller's key id). The list's sequence number moves on with
 * every change, so an exported list can be told apart from an older one.
 */

/** One revoked agent. */
export interface Revocation {
  readonly agentId: string;
  readonly reason: string;
  /** Who revoked it: a principal name, `auto` (violations), or `import:<key id>`. */
  readonly revokedBy: string;
  readonly revokedAtMs: number;
  /** `local`, or the key id of the controller whose signed list it came from. */
  readonly source: string;
}

/** Outcome of {@link RevocationStore.importList}. */
export interface ImportOutcome {
  /** Agents the list revoked that were not revoked here before. */
  readonly added: readonly string[];
  /** Agents this issuer had revoked before and its list no longer names. */
  readonly removed: readonly string[];
}

/** The revocation list, kept by the control store. Every write is one durable transaction. */
export interface RevocationStore {
  /** Revokes `agentId`; returns undefined when it already was (the first revocation stands). */
  revoke(input: Omit<Revocation, 'source'>): Promise<Revocation | undefined>;
  /** Lifts the revocation of `agentId` (whatever its source); false when there was none. */
  unrevoke(agentId: string): Promise<boolean>;
  /** The revocation of `agentId`, or undefined. */
  get(agentId: string): Promise<Revocation | undefined>;
  /** Every revocation, by agent id. */
  list(): Promise<Revocation[]>;
  /** The list's sequence number: moves on with every revoke and unrevoke (0 for a list never changed). */
  sequence(): Promise<number>;
  /**
   * Applies the verified list of another controller: its entries replace what that issuer's last
   * list gave. Refuses (`stale_list`) a sequence not above the last one applied from that issuer.
   */
  importList(input: { issuer: string; sequence: number; entries: readonly Omit<Revocation, 'source'>[] }): Promise<ImportOutcome>;
}
