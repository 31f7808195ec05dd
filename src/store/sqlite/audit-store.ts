/** The audit log in the embedded SQLite store (tables of migration 3). */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { leafHash, nodeHash, nodesCompletedBy, type PerfectNode } from '../../audit/merkle.ts';
import type { SignedTreeHead } from '../../audit/tree-head.ts';
import type { AuditAppended, AuditLeafInput, AuditQuery, AuditStore, StoredAuditRow } from '../audit.ts';
import { inTransaction } from './transaction.ts';

interface RowShape {
  idx: number;
  leaf: string;
  leaf_hash: Uint8Array;
}

function toRow(row: RowShape): StoredAuditRow {
  return { index: row.idx, leaf: row.leaf, leafHash: Buffer.from(row.leaf_hash) };
}

function prepareStatements(db: DatabaseSync) {
  return {
    last: db.prepare('SELECT idx, leaf_hash FROM audit_records ORDER BY idx DESC LIMIT 1'),
    insert: db.prepare('INSERT INTO audit_records (idx, leaf, leaf_hash, time_ms, kind, agent_id, sandbox_id) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    leafHash: db.prepare('SELECT leaf_hash FROM audit_records WHERE idx = ?'),
    node: db.prepare('SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?'),
    insertNode: db.prepare('INSERT INTO audit_nodes (level, idx, hash) VALUES (?, ?, ?)'),
    rows: db.prepare('SELECT idx, leaf, leaf_hash FROM audit_records WHERE idx >= ? ORDER BY idx LIMIT ?'),
    insertHead: db.prepare('INSERT OR IGNORE INTO audit_heads (tree_size, root_hash, timestamp, key_id, signature) VALUES (?, ?, ?, ?, ?)'),
    latestHead: db.prepare('SELECT tree_size, root_hash, timestamp, key_id, signature FROM audit_heads ORDER BY tree_size DESC LIMIT 1'),
    heads: db.prepare('SELECT tree_size, root_hash, timestamp, key_id, signature FROM audit_heads ORDER BY tree_size'),
  } satisfies Record<string, StatementSync>;
}

/**
 * How an append is committed: `full` syncs it to disk before returning (it survives a power cut);
 * `normal` leaves it in the WAL in the OS page cache (it survives a controller crash or kill -9, not a
 * host crash) and syncs at checkpoints.
 */
export type AuditSync = 'full' | 'normal';

/** The SQLite implementation of {@link AuditStore}; shares the store's connection. */
export class SqliteAuditStore implements AuditStore {
  readonly #db: DatabaseSync;
  readonly #s: ReturnType<typeof prepareStatements>;
  readonly #durable: boolean;

  constructor(db: DatabaseSync, sync: AuditSync = 'full') {
    this.#db = db;
    this.#s = prepareStatements(db);
    this.#durable = sync === 'full';
  }

  #node(level: number, index: number): Buffer {
    const row = (level === 0 ? this.#s.leafHash.get(index) : this.#s.node.get(level, index)) as { leaf_hash?: Uint8Array; hash?: Uint8Array } | undefined;
    const hash = row?.leaf_hash ?? row?.hash;
    if (hash === undefined) throw new Error(`audit store: subtree ${level}/${index} is missing`);
    return Buffer.from(hash);
  }

  async append(build: (size: number, lastLeafHash: Buffer | null) => readonly AuditLeafInput[]): Promise<AuditAppended> {
    // Why durable (by default): a record must survive a crash before the action it records goes ahead.
    return inTransaction(this.#db, () => {
        const last = this.#s.last.get() as { idx: number; leaf_hash: Uint8Array } | undefined;
        const firstIndex = last === undefined ? 0 : last.idx + 1;
        const leaves = build(firstIndex, last === undefined ? null : Buffer.from(last.leaf_hash));
        const leafHashes: Buffer[] = [];
        leaves.forEach((input, i) => {
          const index = firstIndex + i;
          const hash = leafHash(input.leaf);
          leafHashes.push(hash);
          this.#s.insert.run(index, input.leaf, hash, input.timeMs, input.kind, input.agentId, input.sandboxId);
          for (const node of nodesCompletedBy(index)) {
            const hashOf = nodeHash(this.#node(node.level - 1, node.index * 2), this.#node(node.level - 1, node.index * 2 + 1));
            this.#s.insertNode.run(node.level, node.index, hashOf);
          }
        });
        return { firstIndex, leafHashes };
      }, { durable: this.#durable });
  }

  async size(): Promise<number> {
    const last = this.#s.last.get() as { idx: number } | undefined;
    return last === undefined ? 0 : last.idx + 1;
  }

  async nodes(wanted: readonly PerfectNode[]): Promise<Buffer[]> {
    return wanted.map((n) => this.#node(n.level, n.index));
  }

  async rows(fromIndex: number, limit: number): Promise<StoredAuditRow[]> {
    return (this.#s.rows.all(fromIndex, limit) as unknown as RowShape[]).map(toRow);
  }

  async query(query: AuditQuery): Promise<StoredAuditRow[]> {
    const where: string[] = ['idx > ?'];
    const args: (string | number)[] = [query.afterIndex ?? -1];
    if (query.agentId !== undefined) {
      where.push('agent_id = ?');
      args.push(query.agentId);
    }
    if (query.sandboxId !== undefined) {
      where.push('sandbox_id = ?');
      args.push(query.sandboxId);
    }
    if (query.kind !== undefined) {
      where.push('kind = ?');
      args.push(query.kind);
    }
    // Only fixed column names are joined in; every value is a bound parameter.
    const sql = `SELECT idx, leaf, leaf_hash FROM audit_records WHERE ${where.join(' AND ')} ORDER BY idx LIMIT ?`;
    return (this.#db.prepare(sql).all(...args, query.limit) as unknown as RowShape[]).map(toRow);
  }

  async saveHead(head: SignedTreeHead): Promise<void> {
    inTransaction(this.#db, () => this.#s.insertHead.run(head.tree_size, head.root_hash, head.timestamp, head.key_id, head.signature), { durable: true });
  }

  async latestHead(): Promise<SignedTreeHead | undefined> {
    const row = this.#s.latestHead.get() as SignedTreeHead | undefined;
    return row === undefined ? undefined : { ...row };
  }

  async heads(): Promise<SignedTreeHead[]> {
    return (this.#s.heads.all() as unknown as SignedTreeHead[]).map((row) => ({ ...row }));
  }
}
