/** Behavior contracts in the SQLite store: one row per agent. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ContractStore, StoredContract } from '../contracts.ts';
import { inTransaction } from './transaction.ts';

interface ContractRow {
  agent_id: string;
  contract_json: string;
  updated_at: number;
  updated_by: string;
}

// Why durable: a contract lost to a power cut would silently widen what an agent may do.
const DURABLE = { durable: true } as const;

function toContract(row: ContractRow): StoredContract {
  return { agentId: row.agent_id, contract: JSON.parse(row.contract_json) as unknown, updatedAtMs: row.updated_at, updatedBy: row.updated_by };
}

function prepare(db: DatabaseSync) {
  return {
    get: db.prepare('SELECT agent_id, contract_json, updated_at, updated_by FROM contracts WHERE agent_id = ?'),
    list: db.prepare('SELECT agent_id, contract_json, updated_at, updated_by FROM contracts ORDER BY agent_id'),
    upsert: db.prepare('INSERT INTO contracts (agent_id, contract_json, updated_at, updated_by) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET contract_json = excluded.contract_json, updated_at = excluded.updated_at, updated_by = excluded.updated_by'),
    remove: db.prepare('DELETE FROM contracts WHERE agent_id = ?'),
  } satisfies Record<string, StatementSync>;
}

/** The SQLite implementation of {@link ContractStore}. */
export class SqliteContractStore implements ContractStore {
  readonly #db: DatabaseSync;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#s = prepare(db);
  }

  async set(input: StoredContract): Promise<void> {
    inTransaction(this.#db, () => this.#s.upsert.run(input.agentId, JSON.stringify(input.contract), input.updatedAtMs, input.updatedBy), DURABLE);
  }

  async get(agentId: string): Promise<StoredContract | undefined> {
    const row = this.#s.get.get(agentId) as ContractRow | undefined;
    return row === undefined ? undefined : toContract(row);
  }

  async remove(agentId: string): Promise<boolean> {
    return inTransaction(this.#db, () => Number(this.#s.remove.run(agentId).changes) > 0, DURABLE);
  }

  async list(): Promise<StoredContract[]> {
    return (this.#s.list.all() as unknown as ContractRow[]).map(toContract);
  }
}
