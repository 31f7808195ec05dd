/** The revocation list in the SQLite store: one row per revoked agent, a counter for its sequence. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import type { ImportOutcome, Revocation, RevocationStore } from '../revocations.ts';
import { inTransaction } from './transaction.ts';

interface RevocationRow {
  agent_id: string;
  reason: string;
  revoked_by: string;
  revoked_at: number;
  source: string;
}

// Why durable: a revocation lost to a power cut would let a revoked agent back in.
const DURABLE = { durable: true } as const;
const LOCAL = 'local';

function toRevocation(row: RevocationRow): Revocation {
  return { agentId: row.agent_id, reason: row.reason, revokedBy: row.revoked_by, revokedAtMs: row.revoked_at, source: row.source };
}

function prepare(db: DatabaseSync) {
  return {
    get: db.prepare('SELECT agent_id, reason, revoked_by, revoked_at, source FROM revocations WHERE agent_id = ?'),
    list: db.prepare('SELECT agent_id, reason, revoked_by, revoked_at, source FROM revocations ORDER BY agent_id'),
    bySource: db.prepare('SELECT agent_id FROM revocations WHERE source = ?'),
    insert: db.prepare('INSERT OR IGNORE INTO revocations (agent_id, reason, revoked_by, revoked_at, source) VALUES (?, ?, ?, ?, ?)'),
    remove: db.prepare('DELETE FROM revocations WHERE agent_id = ?'),
    removeFrom: db.prepare('DELETE FROM revocations WHERE agent_id = ? AND source = ?'),
    sequence: db.prepare('SELECT sequence FROM revocation_sequence WHERE only_row = 1'),
    bump: db.prepare('UPDATE revocation_sequence SET sequence = sequence + 1 WHERE only_row = 1'),
    imported: db.prepare('SELECT sequence FROM revocation_imports WHERE issuer = ?'),
    setImported: db.prepare('INSERT INTO revocation_imports (issuer, sequence) VALUES (?, ?) ON CONFLICT (issuer) DO UPDATE SET sequence = excluded.sequence'),
  } satisfies Record<string, StatementSync>;
}

/** The SQLite implementation of {@link RevocationStore}. */
export class SqliteRevocationStore implements RevocationStore {
  readonly #db: DatabaseSync;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#s = prepare(db);
  }

  async revoke(input: Omit<Revocation, 'source'>): Promise<Revocation | undefined> {
    return inTransaction(this.#db, () => {
      const changed = this.#s.insert.run(input.agentId, input.reason, input.revokedBy, input.revokedAtMs, LOCAL).changes;
      if (Number(changed) === 0) return undefined;
      this.#s.bump.run();
      return { ...input, source: LOCAL };
    }, DURABLE);
  }

  async unrevoke(agentId: string): Promise<boolean> {
    return inTransaction(this.#db, () => {
      if (Number(this.#s.remove.run(agentId).changes) === 0) return false;
      this.#s.bump.run();
      return true;
    }, DURABLE);
  }

  async get(agentId: string): Promise<Revocation | undefined> {
    const row = this.#s.get.get(agentId) as RevocationRow | undefined;
    return row === undefined ? undefined : toRevocation(row);
  }

  async list(): Promise<Revocation[]> {
    return (this.#s.list.all() as unknown as RevocationRow[]).map(toRevocation);
  }

  async sequence(): Promise<number> {
    return (this.#s.sequence.get() as { sequence: number }).sequence;
  }

  async importList(input: { issuer: string; sequence: number; entries: readonly Omit<Revocation, 'source'>[] }): Promise<ImportOutcome> {
    return inTransaction(this.#db, () => {
      const last = this.#s.imported.get(input.issuer) as { sequence: number } | undefined;
      // Why: an older list replayed would bring back agents its issuer has since unrevoked, or drop newer revocations.
      if (last !== undefined && input.sequence <= last.sequence) {
        throw new StoreError('stale_list', `revocation list ${input.sequence} of ${input.issuer} is not newer than the last one applied (${last.sequence})`);
      }
      const listed = new Set(input.entries.map((e) => e.agentId));
      const removed: string[] = [];
      for (const row of this.#s.bySource.all(input.issuer) as { agent_id: string }[]) {
        if (listed.has(row.agent_id)) continue;
        this.#s.removeFrom.run(row.agent_id, input.issuer);
        removed.push(row.agent_id);
      }
      const added: string[] = [];
      for (const entry of input.entries) {
        // An agent already revoked here (locally or by another list) keeps its first revocation.
        if (Number(this.#s.insert.run(entry.agentId, entry.reason, entry.revokedBy, entry.revokedAtMs, input.issuer).changes) > 0) added.push(entry.agentId);
      }
      this.#s.setImported.run(input.issuer, input.sequence);
      if (added.length > 0 || removed.length > 0) this.#s.bump.run();
      return { added, removed };
    }, DURABLE);
  }
}
