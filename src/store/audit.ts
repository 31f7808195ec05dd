/**
 * The audit log in the store: append-only leaves of an RFC 6962 Merkle tree, the perfect subtree
 * hashes each append completes (so proofs take O(log² n) reads), and signed tree heads. What a
 * record says and how heads are signed is src/audit's; the store keeps bytes and makes each append
 * one durable transaction. A server database implements the same interface for several controllers
 * sharing one log: `append` reads the tree's end inside its own transaction, never from memory.
 */
import type { PerfectNode } from '../audit/merkle.ts';
import type { SignedTreeHead } from '../audit/tree-head.ts';

/** One leaf to append, with the columns queries filter on (copies of what the leaf says). */
export interface AuditLeafInput {
  /** The record's canonical JSON: what is hashed. */
  readonly leaf: string;
  readonly timeMs: number;
  readonly kind: string;
  readonly agentId: string | null;
  readonly sandboxId: string | null;
}

/** One stored leaf, as stored (a verifier trusts none of it). */
export interface StoredAuditRow {
  readonly index: number;
  readonly leaf: string;
  readonly leafHash: Buffer;
}

/** Which records a query returns, oldest first. */
export interface AuditQuery {
  readonly agentId?: string | undefined;
  readonly sandboxId?: string | undefined;
  readonly kind?: string | undefined;
  /** Only records with an index above this. */
  readonly afterIndex?: number | undefined;
  readonly limit: number;
}

/** What an append committed. */
export interface AuditAppended {
  readonly firstIndex: number;
  readonly leafHashes: readonly Buffer[];
}

/** The audit log's storage. Every write is one transaction, synced to disk before it returns. */
export interface AuditStore {
  /**
   * Appends the leaves `build` makes for the tree's current end (its size and last leaf hash,
   * read inside the transaction), with their leaf hashes and every subtree they complete, in one
   * durable transaction; nothing is written if anything fails.
   */
  append(build: (size: number, lastLeafHash: Buffer | null) => readonly AuditLeafInput[]): Promise<AuditAppended>;
  /** Records in the tree. */
  size(): Promise<number>;
  /** The stored hashes of perfect subtrees (level 0: leaf hashes), in the order asked; throws if one is missing. */
  nodes(wanted: readonly PerfectNode[]): Promise<Buffer[]>;
  /** Stored rows from `fromIndex` on, by index, at most `limit`. */
  rows(fromIndex: number, limit: number): Promise<StoredAuditRow[]>;
  /** Rows matching `query`, by index. */
  query(query: AuditQuery): Promise<StoredAuditRow[]>;
  /** Keeps a signed head (a head of the same size is kept once). */
  saveHead(head: SignedTreeHead): Promise<void>;
  /** The head of the largest tree signed so far. */
  latestHead(): Promise<SignedTreeHead | undefined>;
  /** Every kept head, smallest tree first. */
  heads(): Promise<SignedTreeHead[]>;
}
