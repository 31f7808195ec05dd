/**
 * Checks a whole stored log against signed heads, trusting nothing the store says about hashes:
 * every leaf is re-hashed from its bytes, the tree is rebuilt in one pass (Frontier), and each
 * head's root is compared at its size. The first problem is named by index: a row missing (deleted),
 * one that does not belong (inserted), one out of place (reordered), one whose bytes changed
 * (modified), or a log shorter than a head (truncated).
 */
import type { KeyObject } from 'node:crypto';
import type { StoredAuditRow } from '../store/audit.ts';
import { Frontier } from './frontier.ts';
import { leafHash } from './merkle.ts';
import { parseRecord, type AuditRecord } from './record.ts';
import { verifyTreeHead, type SignedTreeHead } from './tree-head.ts';

/** What a tampered log shows first. */
export type LogProblem = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'head_signature';

/** The outcome of a check. */
export type LogCheck =
  | { readonly ok: true; readonly size: number; readonly root_hash: string; readonly heads_checked: number }
  | { readonly ok: false; readonly index: number; readonly problem: LogProblem; readonly message: string };

/** Where the rows come from: pages by index, as stored. */
export type RowSource = (fromIndex: number, limit: number) => Promise<StoredAuditRow[]>;

const PAGE = 5000;

function fail(index: number, problem: LogProblem, message: string): LogCheck {
  return { ok: false, index, problem, message };
}

async function* allRows(source: RowSource): AsyncGenerator<StoredAuditRow> {
  let from = 0;
  for (;;) {
    const page = await source(from, PAGE);
    for (const row of page) yield row;
    if (page.length < PAGE) return;
    from = (page[page.length - 1] as StoredAuditRow).index + 1;
  }
}

/** Whether a record claiming index `wanted` appears among the rows after `afterIndex` (a moved record, not a lost one). */
async function appearsLater(source: RowSource, afterIndex: number, wanted: number): Promise<boolean> {
  for await (const row of allRows((from, limit) => source(Math.max(from, afterIndex + 1), limit))) {
    try {
      if (parseRecord(row.leaf).index === wanted) return true;
    } catch {
      // An unreadable row is another problem, found where it lies.
    }
  }
  return false;
}

/**
 * Checks the log read from `source` against `heads` (each must be signed by `controllerKey`). With
 * no head, the log is checked for internal consistency only (indexes and the `prev` chain).
 */
export async function verifyLog(source: RowSource, heads: readonly SignedTreeHead[], controllerKey: KeyObject): Promise<LogCheck> {
  const sorted = [...heads].sort((a, b) => a.tree_size - b.tree_size);
  for (const head of sorted) {
    // Why first: a head the controller did not sign proves nothing, and names no index to trust.
    if (!verifyTreeHead(head, controllerKey)) return fail(head.tree_size, 'head_signature', `the tree head of size ${head.tree_size} is not signed by the controller key`);
  }
  const frontier = new Frontier();
  let next = 0;
  let headAt = 0;
  let goodUpTo = 0;
  let prev: Buffer | null = null;
  for await (const row of allRows(source)) {
    const pos = frontier.size;
    if (row.index !== pos) return fail(pos, 'deleted', `record ${pos} is missing from the store (the next stored row is ${row.index})`);
    let record: AuditRecord;
    try {
      record = parseRecord(row.leaf);
    } catch (err) {
      return fail(pos, 'modified', `record ${pos} is not a valid record: ${(err as Error).message}`);
    }
    if (record.index > pos) {
      const moved = await appearsLater(source, pos, pos);
      return moved ? fail(pos, 'reordered', `record ${pos} holds record ${record.index}; record ${pos} appears later`) : fail(pos, 'deleted', `record ${pos} was deleted (the log goes on with record ${record.index})`);
    }
    if (record.index < pos) return fail(record.index, 'inserted', `a record was inserted at ${record.index}: record ${record.index} is stored at ${pos}`);
    const hash = leafHash(row.leaf);
    if (!hash.equals(row.leafHash)) return fail(pos, 'modified', `record ${pos} does not match its stored leaf hash`);
    // Why the chain: an edit that also rewrote the stored hash still breaks the next record's prev.
    if (record.prev !== (prev === null ? null : prev.toString('hex'))) {
      return pos === 0 ? fail(0, 'modified', 'record 0 names a previous record') : fail(pos - 1, 'modified', `record ${pos - 1} was changed: record ${pos} chains to a different one`);
    }
    prev = hash;
    frontier.push(hash);
    next = frontier.size;
    while (headAt < sorted.length && (sorted[headAt] as SignedTreeHead).tree_size <= next) {
      const head = sorted[headAt] as SignedTreeHead;
      if (head.tree_size === next) {
        if (frontier.root().toString('hex') !== head.root_hash) {
          return fail(goodUpTo, 'modified', `records ${goodUpTo} to ${next - 1} differ from what the head of size ${next} (${head.timestamp}) signed`);
        }
        goodUpTo = next;
      }
      headAt += 1;
    }
  }
  const unreached = sorted.find((h) => h.tree_size > next);
  if (unreached !== undefined) return fail(next, 'truncated', `the log ends at ${next} records but a head signed ${unreached.tree_size}: records from ${next} on were deleted`);
  return { ok: true, size: next, root_hash: frontier.root().toString('hex'), heads_checked: sorted.length };
}
