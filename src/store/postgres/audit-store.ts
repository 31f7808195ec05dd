/**
 * The audit log in PostgreSQL, for several controllers sharing one log: the same tables as the
 * SQLite store, and each append one transaction that first takes a transaction-scoped advisory
 * lock, so appends from every controller are serialized and each reads the tree's end inside its
 * own transaction. A commit returns once PostgreSQL has flushed it (synchronous_commit on).
 */
import type { Pool, PoolClient } from 'pg';
import { leafHash, nodeHash, nodesCompletedBy, type PerfectNode } from '../../audit/merkle.ts';
import type { SignedTreeHead } from '../../audit/tree-head.ts';
import type { AuditAppended, AuditLeafInput, AuditQuery, AuditStore, StoredAuditRow } from '../audit.ts';

/** The advisory lock every append takes ("airlock-audit" as a 64-bit number). */
const APPEND_LOCK = 0x61756469745f6c6fn;

/** The schema, created if missing (idempotent). */
export const POSTGRES_AUDIT_SCHEMA = `
  CREATE TABLE IF NOT EXISTS audit_records (
    idx BIGINT PRIMARY KEY,
    leaf TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL,
    time_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    agent_id TEXT,
    sandbox_id TEXT
  );
  CREATE INDEX IF NOT EXISTS audit_records_by_agent ON audit_records (agent_id, idx);
  CREATE INDEX IF NOT EXISTS audit_records_by_sandbox ON audit_records (sandbox_id, idx);
  CREATE TABLE IF NOT EXISTS audit_nodes (
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hash BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
  );
  CREATE TABLE IF NOT EXISTS audit_heads (
    tree_size BIGINT PRIMARY KEY,
    root_hash TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    key_id TEXT NOT NULL,
    signature TEXT NOT NULL
  );
  -- Why: append-only by construction. These stop a mistaken UPDATE or DELETE, not an attacker
  -- (who can drop them): the Merkle tree and the signed heads are what catch that.
  CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
  DROP TRIGGER IF EXISTS audit_records_no_change ON audit_records;
  CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
`;

interface RowShape {
  idx: string;
  leaf: string;
  leaf_hash: Buffer;
}

function toRow(row: RowShape): StoredAuditRow {
  return { index: Number(row.idx), leaf: row.leaf, leafHash: row.leaf_hash };
}

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failed: Error | undefined;
  // Why: a connection lost while checked out is reported as an 'error' event (which, unheard, would
  // crash the controller) besides failing the query in flight; the query's rejection is what counts.
  const onError = (err: Error) => {
    failed ??= err;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    // Why destroy a client whose transaction failed: it may be a dead connection (a server restart),
    // and handing it out again would fail the next append too.
    client.off('error', onError);
    client.release(failed);
  }
}

/** The PostgreSQL implementation of {@link AuditStore}. */
export class PostgresAuditStore implements AuditStore {
  readonly #pool: Pool;

  private constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** Creates the schema if missing (under the append lock, so controllers starting together agree) and returns the store. */
  static async open(pool: Pool): Promise<PostgresAuditStore> {
    await inTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK.toString()]);
      await client.query(POSTGRES_AUDIT_SCHEMA);
    });
    return new PostgresAuditStore(pool);
  }

  async append(build: (size: number, lastLeafHash: Buffer | null) => readonly AuditLeafInput[]): Promise<AuditAppended> {
    return inTransaction(this.#pool, async (client) => {
      // Why a lock and not just the primary key: two controllers must not both build on the same end.
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK.toString()]);
      const last = (await client.query<{ idx: string; leaf_hash: Buffer }>('SELECT idx, leaf_hash FROM audit_records ORDER BY idx DESC LIMIT 1')).rows[0];
      const firstIndex = last === undefined ? 0 : Number(last.idx) + 1;
      const leaves = build(firstIndex, last === undefined ? null : last.leaf_hash);
      const leafHashes: Buffer[] = [];
      // Hashes written in this transaction, so completing a node needs no read-back of them.
      const written = new Map<string, Buffer>();
      const node = async (level: number, index: number): Promise<Buffer> => {
        const known = written.get(`${level}/${index}`);
        if (known !== undefined) return known;
        const result =
          level === 0
            ? await client.query<{ hash: Buffer }>('SELECT leaf_hash AS hash FROM audit_records WHERE idx = $1', [index])
            : await client.query<{ hash: Buffer }>('SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2', [level, index]);
        const hash = result.rows[0]?.hash;
        if (hash === undefined) throw new Error(`audit store: subtree ${level}/${index} is missing`);
        return hash;
      };
      for (const [i, input] of leaves.entries()) {
        const index = firstIndex + i;
        const hash = leafHash(input.leaf);
        leafHashes.push(hash);
        written.set(`0/${index}`, hash);
        await client.query('INSERT INTO audit_records (idx, leaf, leaf_hash, time_ms, kind, agent_id, sandbox_id) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
          index, input.leaf, hash, input.timeMs, input.kind, input.agentId, input.sandboxId,
        ]);
        for (const completed of nodesCompletedBy(index)) {
          const hashOf = nodeHash(await node(completed.level - 1, completed.index * 2), await node(completed.level - 1, completed.index * 2 + 1));
          written.set(`${completed.level}/${completed.index}`, hashOf);
          await client.query('INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)', [completed.level, completed.index, hashOf]);
        }
      }
      return { firstIndex, leafHashes };
    });
  }

  async size(): Promise<number> {
    const last = (await this.#pool.query<{ idx: string }>('SELECT idx FROM audit_records ORDER BY idx DESC LIMIT 1')).rows[0];
    return last === undefined ? 0 : Number(last.idx) + 1;
  }

  async nodes(wanted: readonly PerfectNode[]): Promise<Buffer[]> {
    if (wanted.length === 0) return [];
    const leaves = wanted.filter((n) => n.level === 0).map((n) => n.index);
    const inner = wanted.filter((n) => n.level > 0);
    const found = new Map<string, Buffer>();
    if (leaves.length > 0) {
      for (const row of (await this.#pool.query<{ idx: string; leaf_hash: Buffer }>('SELECT idx, leaf_hash FROM audit_records WHERE idx = ANY($1::bigint[])', [leaves])).rows) found.set(`0/${row.idx}`, row.leaf_hash);
    }
    if (inner.length > 0) {
      const rows = await this.#pool.query<{ level: number; idx: string; hash: Buffer }>(
        'SELECT n.level, n.idx, n.hash FROM audit_nodes n JOIN unnest($1::int[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx',
        [inner.map((n) => n.level), inner.map((n) => n.index)],
      );
      for (const row of rows.rows) found.set(`${row.level}/${row.idx}`, row.hash);
    }
    return wanted.map((n) => {
      const hash = found.get(`${n.level}/${n.index}`);
      if (hash === undefined) throw new Error(`audit store: subtree ${n.level}/${n.index} is missing`);
      return hash;
    });
  }

  async rows(fromIndex: number, limit: number): Promise<StoredAuditRow[]> {
    return (await this.#pool.query<RowShape>('SELECT idx, leaf, leaf_hash FROM audit_records WHERE idx >= $1 ORDER BY idx LIMIT $2', [fromIndex, limit])).rows.map(toRow);
  }

  async query(query: AuditQuery): Promise<StoredAuditRow[]> {
    const args: (string | number)[] = [query.afterIndex ?? -1];
    const where: string[] = ['idx > $1'];
    const add = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      args.push(value);
      where.push(`${column} = $${args.length}`);
    };
    add('agent_id', query.agentId);
    add('sandbox_id', query.sandboxId);
    add('kind', query.kind);
    args.push(query.limit);
    // Only fixed column names are joined in; every value is a bound parameter.
    return (await this.#pool.query<RowShape>(`SELECT idx, leaf, leaf_hash FROM audit_records WHERE ${where.join(' AND ')} ORDER BY idx LIMIT $${args.length}`, args)).rows.map(toRow);
  }

  async saveHead(head: SignedTreeHead): Promise<void> {
    await this.#pool.query('INSERT INTO audit_heads (tree_size, root_hash, timestamp, key_id, signature) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tree_size) DO NOTHING', [
      head.tree_size, head.root_hash, head.timestamp, head.key_id, head.signature,
    ]);
  }

  async latestHead(): Promise<SignedTreeHead | undefined> {
    const row = (await this.#pool.query<SignedTreeHead & { tree_size: string }>('SELECT tree_size, root_hash, timestamp, key_id, signature FROM audit_heads ORDER BY tree_size DESC LIMIT 1')).rows[0];
    return row === undefined ? undefined : { ...row, tree_size: Number(row.tree_size) };
  }

  async heads(): Promise<SignedTreeHead[]> {
    const rows = (await this.#pool.query<SignedTreeHead & { tree_size: string }>('SELECT tree_size, root_hash, timestamp, key_id, signature FROM audit_heads ORDER BY tree_size')).rows;
    return rows.map((row) => ({ ...row, tree_size: Number(row.tree_size) }));
  }
}
