/**
 * The audit log: the one seam (`append`) every part of the controller records through. Appends
 * that arrive together are committed as one durable transaction (group commit), and each caller's
 * promise resolves only once its record is on disk: an action waits for its record. A failed write
 * rejects with AuditUnavailable and turns the log unhealthy (what /health reports and what makes
 * new sandboxes refused) until a write succeeds again.
 */
import type { KeyObject } from 'node:crypto';
import type { AuditLeafInput, AuditStore, StoredAuditRow } from '../store/audit.ts';
import { canonicalJson } from '../signing/canonical-json.ts';
import { AuditUnavailable } from './errors.ts';
import { consistencyRanges, EMPTY_ROOT, inclusionRanges, leafHash, perfectNodesOf, rangeHash, type LeafRange, type PerfectNode } from './merkle.ts';
import { parseRecord, recordLeaf, toRecord, type AuditEvent, type AuditRecord } from './record.ts';
import { RECEIPT_TYPE, type AuditReceipt } from './receipt.ts';
import { signTreeHead, type SignedTreeHead } from './tree-head.ts';
import { verifyLog, type LogCheck } from './verify-log.ts';
import { publicKeyOf } from '../signing/keys.ts';

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  readonly store: AuditStore;
  /** The controller's Ed25519 key; without it the log appends and proves but signs no head. */
  readonly signingKey?: KeyObject | undefined;
  /** Clock in ms (default Date.now). */
  readonly now?: (() => number) | undefined;
}

/** A committed record. */
export interface AppendedRecord {
  readonly index: number;
  readonly record: AuditRecord;
  readonly leafHash: Buffer;
}

/** Whether the log can take records now. */
export interface AuditHealth {
  readonly writable: boolean;
  /** Why not (the store's error), null while writable. */
  readonly reason: string | null;
  /** Since when it has not been writable (ISO 8601), null while writable. */
  readonly since: string | null;
}

interface Pending {
  readonly event: AuditEvent;
  readonly resolve: (record: AppendedRecord) => void;
  readonly reject: (err: Error) => void;
  /** performance.now() when append was called. */
  readonly started: number;
}

/** A record as a reader gets it, with its index. */
export interface ReadRecord {
  readonly index: number;
  readonly record: AuditRecord;
}

/** The controller's audit log over an {@link AuditStore}. */
export class AuditLog {
  readonly #store: AuditStore;
  readonly #key: KeyObject | undefined;
  readonly #now: () => number;
  #pending: Pending[] = [];
  #scheduled = false;
  #writing: Promise<void> = Promise.resolve();
  #health: AuditHealth = { writable: true, reason: null, since: null };
  readonly #listeners = new Set<(record: AppendedRecord) => void>();
  readonly #latencyListeners = new Set<(seconds: number) => void>();

  constructor(options: AuditLogOptions) {
    this.#store = options.store;
    this.#key = options.signingKey;
    this.#now = options.now ?? Date.now;
  }

  /** Whether the last write succeeded. */
  get health(): AuditHealth {
    return this.#health;
  }

  /** Whether heads can be signed here. */
  get signs(): boolean {
    return this.#key !== undefined;
  }

  /**
   * Appends one record; resolves once it is durable. Rejects with AuditUnavailable when the store
   * could not take it (nothing was written), with TypeError when `event.data` is not JSON.
   */
  append(event: AuditEvent): Promise<AppendedRecord> {
    // Checked alone, before batching: one malformed event must not fail the others' commit.
    canonicalJson(event.data);
    return new Promise((resolve, reject) => {
      this.#pending.push({ event, resolve, reject, started: performance.now() });
      if (this.#scheduled) return;
      this.#scheduled = true;
      // Why a microtask: appends made in the same turn share one commit (one fsync).
      queueMicrotask(() => {
        this.#writing = this.#writing.then(() => this.#flush());
      });
    });
  }

  /** Calls `listener` with every record committed from now on (the events stream); returns the unsubscribe. */
  subscribe(listener: (record: AppendedRecord) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` with each committed record's append latency in seconds (from `append` to
   * durable, batching wait included), e.g. for metrics; returns the unsubscribe.
   */
  observeAppendLatency(listener: (seconds: number) => void): () => void {
    this.#latencyListeners.add(listener);
    return () => this.#latencyListeners.delete(listener);
  }

  /** Resolves once every append made so far has been written (or has failed). */
  async settled(): Promise<void> {
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    await this.#writing;
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const timeMs = this.#now();
    let built: AppendedRecord[] = [];
    try {
      await this.#store.append((size, last) => {
        built = [];
        const leaves: AuditLeafInput[] = [];
        let prev = last;
        for (const [i, { event }] of batch.entries()) {
          const record = toRecord(event, size + i, timeMs, prev);
          const leaf = recordLeaf(record);
          prev = leafHash(leaf);
          built.push({ index: size + i, record, leafHash: prev });
          leaves.push({ leaf, timeMs, kind: record.kind, agentId: record.agent_id, sandboxId: record.sandbox_id });
        }
        return leaves;
      });
    } catch (err) {
      const reason = (err as Error).message;
      if (this.#health.writable) this.#health = { writable: false, reason, since: new Date(this.#now()).toISOString() };
      else this.#health = { ...this.#health, reason };
      const refusal = new AuditUnavailable(`the audit log could not record this (${reason}); nothing that needs a record proceeds until it can`, { cause: err });
      for (const p of batch) p.reject(refusal);
      return;
    }
    this.#health = { writable: true, reason: null, since: null };
    for (const [i, p] of batch.entries()) p.resolve(built[i] as AppendedRecord);
    for (const listener of this.#listeners) for (const record of built) listener(record);
    if (this.#latencyListeners.size > 0) {
      const now = performance.now();
      for (const listener of this.#latencyListeners) for (const p of batch) listener((now - p.started) / 1000);
    }
  }

  /** Records in the log. */
  size(): Promise<number> {
    return this.#store.size();
  }

  async #rangeHashes(ranges: readonly LeafRange[]): Promise<Buffer[]> {
    const wanted: PerfectNode[] = [];
    for (const range of ranges) wanted.push(...perfectNodesOf(range));
    const hashes = await this.#store.nodes(wanted);
    const byKey = new Map(wanted.map((n, i) => [`${n.level}/${n.index}`, hashes[i] as Buffer]));
    return ranges.map((range) => rangeHash(range, (n) => byKey.get(`${n.level}/${n.index}`) as Buffer));
  }

  /** MTH of the first `size` records. */
  async root(size: number): Promise<Buffer> {
    if (size === 0) return EMPTY_ROOT;
    const [root] = await this.#rangeHashes([[0, size]]);
    return root as Buffer;
  }

  /** The inclusion proof of record `index` in the tree of `size` records. */
  inclusionProof(index: number, size: number): Promise<Buffer[]> {
    return this.#rangeHashes(inclusionRanges(index, size));
  }

  /** The consistency proof from the tree of `first` records to the tree of `second`. */
  consistencyProof(first: number, second: number): Promise<Buffer[]> {
    return this.#rangeHashes(consistencyRanges(first, second));
  }

  /**
   * Signs and keeps a head of the log as it is now (on demand); returns the latest head instead when
   * the log has not grown since it was signed. Throws when this log has no key.
   */
  async signHead(): Promise<SignedTreeHead> {
    if (this.#key === undefined) throw new Error('this audit log has no signing key');
    await this.settled();
    const size = await this.#store.size();
    const latest = await this.#store.latestHead();
    if (latest !== undefined && latest.tree_size === size) return latest;
    const head = signTreeHead(size, await this.root(size), this.#now(), this.#key);
    await this.#store.saveHead(head);
    return head;
  }

  /** Signs a head every `intervalMs` while the log grows; returns the stop function. */
  signPeriodically(intervalMs: number, onError: (err: unknown) => void): () => void {
    const timer = setInterval(() => {
      this.signHead().catch(onError);
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** The head of the largest tree signed so far. */
  latestHead(): Promise<SignedTreeHead | undefined> {
    return this.#store.latestHead();
  }

  /** Every kept head, smallest first. */
  heads(): Promise<SignedTreeHead[]> {
    return this.#store.heads();
  }

  /** A receipt for record `index`: the record, its inclusion proof and a signed head that includes it (signed now if none does). */
  async receipt(index: number): Promise<AuditReceipt> {
    let head = await this.#store.latestHead();
    if (head === undefined || head.tree_size <= index) head = await this.signHead();
    const [row] = await this.#store.rows(index, 1);
    if (row === undefined || row.index !== index) throw new RangeError(`no audit record ${index}`);
    const proof = await this.inclusionProof(index, head.tree_size);
    return { type: RECEIPT_TYPE, record: parseRecord(row.leaf), leaf_hash: row.leafHash.toString('hex'), inclusion_proof: proof.map((p) => p.toString('hex')), tree_head: head };
  }

  /** Records matching the query, oldest first. */
  async query(query: Parameters<AuditStore['query']>[0]): Promise<ReadRecord[]> {
    return (await this.#store.query(query)).map(readRecord);
  }

  /**
   * Checks the stored log against its own kept heads and `extraHeads` (held elsewhere), with
   * `publicKey` (default: this log's signing key's public half).
   */
  async verifyStored(publicKey?: KeyObject, extraHeads: readonly SignedTreeHead[] = []): Promise<LogCheck> {
    const key = publicKey ?? (this.#key === undefined ? undefined : publicKeyOf(this.#key));
    if (key === undefined) throw new Error('verifying the log needs the controller public key');
    await this.settled();
    return verifyLog((from, limit) => this.#store.rows(from, limit), [...(await this.#store.heads()), ...extraHeads], key);
  }

  /** Stored rows from `fromIndex`, as stored (for verification). */
  rows(fromIndex: number, limit: number): Promise<StoredAuditRow[]> {
    return this.#store.rows(fromIndex, limit);
  }
}

function readRecord(row: StoredAuditRow): ReadRecord {
  return { index: row.index, record: parseRecord(row.leaf) };
}
