/**
 * Schema migrations, versioned in code. Version N is `MIGRATIONS[N - 1]`; the database's version is
 * SQLite's `user_version`. Migrations only ever append: a released one is never edited.
 */
import type { DatabaseSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import { inTransaction } from './transaction.ts';

/** One schema step: plain SQL, applied in the same transaction as the version bump. */
export interface Migration {
  readonly description: string;
  readonly sql: string;
}

/** Every migration, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    description: 'principals, their groups and keys; nonces of signed requests',
    sql: `
      CREATE TABLE principals (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('agent', 'operator', 'approver')),
        agent_id TEXT NOT NULL,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE principal_groups (
        principal TEXT NOT NULL REFERENCES principals (name) ON DELETE CASCADE,
        group_name TEXT NOT NULL,
        PRIMARY KEY (principal, group_name)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE principal_keys (
        key_id TEXT PRIMARY KEY,
        principal TEXT NOT NULL REFERENCES principals (name) ON DELETE CASCADE,
        public_key_pem TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        revoked_at INTEGER
      ) STRICT;
      CREATE INDEX principal_keys_by_principal ON principal_keys (principal);
      CREATE TABLE replay_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX replay_nonces_by_expiry ON replay_nonces (expires_at);
      CREATE TABLE replay_nonce_count (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        live INTEGER NOT NULL
      ) STRICT;
      INSERT INTO replay_nonce_count (only_row, live) VALUES (1, 0);
    `,
  },
  {
    description: 'approvals awaiting or holding a signed decision; nonces of signed decisions',
    sql: `
      CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        action_digest TEXT NOT NULL,
        requester_name TEXT NOT NULL,
        requester_agent_id TEXT NOT NULL,
        action TEXT NOT NULL,
        sandbox_id TEXT,
        summary_json TEXT NOT NULL,
        policy_ids_json TEXT NOT NULL,
        reasons_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'consumed')),
        decided_by TEXT,
        decided_key_id TEXT,
        decided_at INTEGER,
        decision_expires_at INTEGER,
        consumed_at INTEGER
      ) STRICT;
      CREATE INDEX approvals_by_requester ON approvals (requester_agent_id, created_at);
      CREATE INDEX approvals_by_created ON approvals (created_at);
      CREATE TABLE approval_nonces (
        nonce TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX approval_nonces_by_expiry ON approval_nonces (expires_at);
    `,
  },
  {
    description: 'the audit log: Merkle tree leaves, completed subtree hashes, signed tree heads',
    sql: `
      CREATE TABLE audit_records (
        idx INTEGER PRIMARY KEY,
        leaf TEXT NOT NULL,
        leaf_hash BLOB NOT NULL,
        time_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        agent_id TEXT,
        sandbox_id TEXT
      ) STRICT;
      CREATE INDEX audit_records_by_agent ON audit_records (agent_id, idx);
      CREATE INDEX audit_records_by_sandbox ON audit_records (sandbox_id, idx);
      CREATE TABLE audit_nodes (
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (level, idx)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE audit_heads (
        tree_size INTEGER PRIMARY KEY,
        root_hash TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL
      ) STRICT;
      -- Why: append-only by construction. These stop a mistaken UPDATE or DELETE, not an attacker
      -- (who can drop them): the Merkle tree and the signed heads are what catch that.
      CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
      CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
    `,
  },
  {
    description: 'revoked agents, the revocation list sequence, the last list applied from each other controller',
    sql: `
      CREATE TABLE revocations (
        agent_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        revoked_by TEXT NOT NULL,
        revoked_at INTEGER NOT NULL,
        source TEXT NOT NULL
      ) STRICT;
      CREATE INDEX revocations_by_source ON revocations (source);
      CREATE TABLE revocation_sequence (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
        sequence INTEGER NOT NULL
      ) STRICT;
      INSERT INTO revocation_sequence (only_row, sequence) VALUES (1, 0);
      CREATE TABLE revocation_imports (
        issuer TEXT PRIMARY KEY,
        sequence INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    description: 'behavior contracts, one per agent',
    sql: `
      CREATE TABLE contracts (
        agent_id TEXT PRIMARY KEY,
        contract_json TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT NOT NULL
      ) STRICT;
    `,
  },
];

/** The schema version this code writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

function userVersion(db: DatabaseSync): number {
  const row = db.prepare('PRAGMA user_version').get() as { user_version: number } | undefined;
  return row?.user_version ?? 0;
}

/**
 * Brings the database to {@link SCHEMA_VERSION}. Runs under an immediate (write-locked) transaction,
 * so two processes opening a new store at once apply each migration exactly once. Refuses a
 * database newer than this code rather than guess at its schema.
 */
export function migrate(db: DatabaseSync, path: string): void {
  inTransaction(db, () => {
    const current = userVersion(db);
    if (current > SCHEMA_VERSION) {
      throw new StoreError('store_too_new', `store ${path} has schema version ${current}; this airlock knows up to ${SCHEMA_VERSION}`);
    }
    for (let version = current + 1; version <= SCHEMA_VERSION; version++) {
      db.exec((MIGRATIONS[version - 1] as Migration).sql);
      // PRAGMA takes no bound parameters; the version is an integer from this file.
      db.exec(`PRAGMA user_version = ${version}`);
    }
  }, { durable: true });
}
