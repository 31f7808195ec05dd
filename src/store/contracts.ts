/** Behavior contracts in the store: one JSON document per agent (src/contracts keeps their schema and rules). */

/** A stored contract. */
export interface StoredContract {
  readonly agentId: string;
  /** The contract as validated when it was set (JSON). */
  readonly contract: unknown;
  readonly updatedAtMs: number;
  readonly updatedBy: string;
}

/** Contracts, kept by the control store. Every write is one durable transaction. */
export interface ContractStore {
  /** Sets (or replaces) the contract of `agentId`. */
  set(input: StoredContract): Promise<void>;
  /** The contract of `agentId`, or undefined. */
  get(agentId: string): Promise<StoredContract | undefined>;
  /** Removes it; false when there was none. */
  remove(agentId: string): Promise<boolean>;
  /** Every contract, by agent id. */
  list(): Promise<StoredContract[]>;
}
