/**
 * Receipts: one record (an execution's or an ended sandbox's final record), its inclusion proof and
 * the signed tree head it is included in. With the controller's public key, anyone checks a
 * receipt offline: the record hashes to a leaf, the proof leads from that leaf to the head's root,
 * and the controller signed the head.
 */
import type { KeyObject } from 'node:crypto';
import { leafHash, verifyInclusion } from './merkle.ts';
import { recordLeaf, type AuditRecord } from './record.ts';
import { checkTreeHead, verifyTreeHead, type SignedTreeHead } from './tree-head.ts';

/** What a receipt says it is. */
export const RECEIPT_TYPE = 'airlock-audit-receipt/v1';

/** A receipt (the wire form). */
export interface AuditReceipt {
  readonly type: typeof RECEIPT_TYPE;
  /** The record itself; its canonical JSON is the leaf. */
  readonly record: AuditRecord;
  /** Hex leaf hash of the record. */
  readonly leaf_hash: string;
  /** Hex hashes from the leaf to the root, leaf side first (RFC 6962 PATH). */
  readonly inclusion_proof: string[];
  readonly tree_head: SignedTreeHead;
}

/** The outcome of checking a receipt: what failed, when something did. */
export type ReceiptCheck = { readonly ok: true; readonly index: number; readonly tree_size: number } | { readonly ok: false; readonly reason: string };

/** Checks a receipt (parsed JSON of unknown shape) against the controller's public key. */
export function verifyReceipt(value: unknown, controllerKey: KeyObject): ReceiptCheck {
  const receipt = value as Partial<AuditReceipt> | null;
  if (receipt === null || typeof receipt !== 'object' || receipt.type !== RECEIPT_TYPE) return { ok: false, reason: `not an audit receipt (type must be ${RECEIPT_TYPE})` };
  let head: SignedTreeHead;
  try {
    head = checkTreeHead(receipt.tree_head);
  } catch (err) {
    return { ok: false, reason: `tree_head: ${(err as Error).message}` };
  }
  const record = receipt.record;
  if (record === null || typeof record !== 'object' || !Number.isSafeInteger(record.index)) return { ok: false, reason: 'record: missing or without an index' };
  const proof = receipt.inclusion_proof;
  if (!Array.isArray(proof) || proof.some((p) => typeof p !== 'string' || !/^[0-9a-f]{64}$/.test(p))) return { ok: false, reason: 'inclusion_proof: a list of 64-digit hex hashes' };
  let leaf: Buffer;
  try {
    leaf = leafHash(recordLeaf(record));
  } catch (err) {
    return { ok: false, reason: `record: ${(err as Error).message}` };
  }
  // Why recompute rather than trust leaf_hash: the record is what the receipt vouches for.
  if (receipt.leaf_hash !== leaf.toString('hex')) return { ok: false, reason: 'leaf_hash does not match the record (the record was changed)' };
  if (!verifyTreeHead(head, controllerKey)) return { ok: false, reason: 'the tree head is not signed by this controller key' };
  if (!verifyInclusion(record.index, head.tree_size, leaf, proof.map((p) => Buffer.from(p, 'hex')), Buffer.from(head.root_hash, 'hex'))) {
    return { ok: false, reason: `the inclusion proof does not lead from record ${record.index} to the signed root of tree size ${head.tree_size}` };
  }
  return { ok: true, index: record.index, tree_size: head.tree_size };
}
