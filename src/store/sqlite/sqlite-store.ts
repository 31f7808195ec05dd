/**
 * The embedded store: one SQLite file (node:sqlite), WAL mode so the server and CLI commands can
 * have it open at once, every write in one immediate transaction.
 */
import { createPublicKey } from 'node:crypto';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { StoreError } from '../errors.ts';
import { checkGroups, checkIdentifier, checkPublicKey, checkRole } from '../principal-input.ts';
import type { ActiveKey, ControlStore, NewPrincipal, Principal, PrincipalKey, PrincipalRole } from '../store.ts';
import { SqliteApprovalStore } from './approval-store.ts';
import { SqliteAuditStore, type AuditSync } from './audit-store.ts';
import { SqliteAuditWriter } from './audit-writer.ts';
import { SqliteRevocationStore } from './revocation-store.ts';
import { SqliteContractStore } from './contract-store.ts';
import { loadSqlite } from './load-sqlite.ts';
import { migrate } from './migrations.ts';
import { ensurePrivateDatabaseFile } from './private-file.ts';
import { SqliteReplayCache } from './replay-cache.ts';
import { inTransaction } from './transaction.ts';

/** Options of {@link SqliteStore.open}. */
export interface SqliteStoreOptions {
  /** Path of the database file; its directory is made (or must be) private to the running user. */
  readonly path: string;
  /** How long a write waits for another process's write lock, ms (default 5000). */
  readonly busyTimeoutMs?: number;
  /** Most live nonces remembered (default 1 000 000). */
  readonly maxNonces?: number;
  /** How audit appends are committed (default `full`: synced to disk); see {@link AuditSync}. */
  readonly auditSync?: AuditSync | undefined;
  /**
   * Where audit appends are committed: `inline` (default) on this connection, what a short CLI command
   * wants (a worker thread costs ~100 ms to start); `worker` in a worker thread, off the event loop,
   * with WAL checkpoints scheduled in another (the controller's log: see audit/open.ts).
   */
  readonly auditWriter?: 'worker' | 'inline' | undefined;
  /** Clock in ms for timestamps (default Date.now); for tests. */
  readonly now?: () => number;
}

interface PrincipalRow {
  name: string;
  role: string;
  agent_id: string;
  created_at: number;
}

interface KeyRow {
  key_id: string;
  principal: string;
  public_key_pem: string;
  added_at: number;
  revoked_at: number | null;
}

/** How long a write waits for another connection's write lock by default, ms. */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

// Why: a revocation lost to a power cut would bring a revoked key back.
const DURABLE = { durable: true } as const;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function toKey(row: KeyRow): PrincipalKey {
  return { keyId: row.key_id, publicKeyPem: row.public_key_pem, addedAt: iso(row.added_at), revokedAt: row.revoked_at === null ? null : iso(row.revoked_at) };
}

function isConstraintError(err: unknown): boolean {
  return (err as { errstr?: string }).errstr === 'constraint failed' || /UNIQUE constraint failed/.test((err as Error).message);
}

/** The store's statements, prepared once per connection. */
function prepareStatements(db: DatabaseSync) {
  return {
    principal: db.prepare('SELECT name, role, agent_id, created_at FROM principals WHERE name = ?'),
    principals: db.prepare('SELECT name, role, agent_id, created_at FROM principals ORDER BY name'),
    groups: db.prepare('SELECT group_name FROM principal_groups WHERE principal = ? ORDER BY group_name'),
    keysOf: db.prepare('SELECT key_id, principal, public_key_pem, added_at, revoked_at FROM principal_keys WHERE principal = ? ORDER BY added_at, key_id'),
    key: db.prepare('SELECT key_id, principal, public_key_pem, added_at, revoked_at FROM principal_keys WHERE key_id = ?'),
    insertPrincipal: db.prepare('INSERT INTO principals (name, role, agent_id, created_at) VALUES (?, ?, ?, ?)'),
    insertGroup: db.prepare('INSERT INTO principal_groups (principal, group_name) VALUES (?, ?)'),
    insertKey: db.prepare('INSERT INTO principal_keys (key_id, principal, public_key_pem, added_at) VALUES (?, ?, ?, ?)'),
    revoke: db.prepare('UPDATE principal_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL'),
  } satisfies Record<string, StatementSync>;
}

type Statements = ReturnType<typeof prepareStatements>;

/** The embedded SQLite implementation of {@link ControlStore}. */
export class SqliteStore implements ControlStore {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #statements: Statements;
  readonly replayCache: SqliteReplayCache;
  readonly approvals: SqliteApprovalStore;
  readonly audit: SqliteAuditWriter | SqliteAuditStore;
  readonly revocations: SqliteRevocationStore;
  readonly contracts: SqliteContractStore;

  private constructor(db: DatabaseSync, options: SqliteStoreOptions) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.replayCache = new SqliteReplayCache(db, options.maxNonces ?? 1_000_000);
    this.#statements = prepareStatements(db);
    this.approvals = new SqliteApprovalStore(db);
    const audit = new SqliteAuditStore(db, options.auditSync);
    this.audit = options.auditWriter === 'worker' ? new SqliteAuditWriter(audit, { path: options.path, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, sync: options.auditSync ?? 'full' }) : audit;
    this.revocations = new SqliteRevocationStore(db);
    this.contracts = new SqliteContractStore(db);
  }

  /** Opens (creating and migrating if needed) the store at `options.path`. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    ensurePrivateDatabaseFile(options.path);
    const { DatabaseSync } = loadSqlite();
    const db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS });
    try {
      // Why WAL: the server keeps the store open while CLI commands write to it.
      db.exec('PRAGMA journal_mode = WAL');
      // Nonce writes survive a controller restart; principal and key changes are synced (durable: true).
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec('PRAGMA foreign_keys = ON');
      migrate(db, options.path);
      return new SqliteStore(db, options);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  #principal(row: PrincipalRow, withKeys: boolean): Principal {
    const groups = (this.#statements.groups.all(row.name) as { group_name: string }[]).map((g) => g.group_name);
    const keys = withKeys ? (this.#statements.keysOf.all(row.name) as unknown as KeyRow[]).map(toKey) : [];
    return { name: row.name, role: row.role as PrincipalRole, agentId: row.agent_id, groups, createdAt: iso(row.created_at), keys };
  }

  #insertKey(principal: string, publicKeyPem: string, now: number): PrincipalKey {
    const checked = checkPublicKey(publicKeyPem);
    const existing = this.#statements.key.get(checked.keyId) as KeyRow | undefined;
    // Why refuse even a revoked one: revocation is for good; re-adding would silently undo it.
    if (existing !== undefined) {
      throw new StoreError('key_exists', `key ${checked.keyId} is already registered (to ${existing.principal}${existing.revoked_at === null ? '' : ', revoked'})`);
    }
    this.#statements.insertKey.run(checked.keyId, principal, checked.publicKeyPem, now);
    return { keyId: checked.keyId, publicKeyPem: checked.publicKeyPem, addedAt: iso(now), revokedAt: null };
  }

  async addPrincipal(input: NewPrincipal): Promise<Principal> {
    const name = checkIdentifier(input.name, 'principal name');
    const role = checkRole(input.role);
    const agentId = checkIdentifier(input.agentId ?? name, 'agent id');
    const groups = checkGroups(input.groups ?? []);
    const now = this.#now();
    return inTransaction(this.#db, () => {
        if (this.#statements.principal.get(name) !== undefined) throw new StoreError('principal_exists', `principal ${name} already exists`);
        try {
          this.#statements.insertPrincipal.run(name, role, agentId, now);
        } catch (err) {
          if (isConstraintError(err)) throw new StoreError('principal_exists', `principal ${name} already exists`, { cause: err });
          throw err;
        }
        for (const group of groups) this.#statements.insertGroup.run(name, group);
        const key = this.#insertKey(name, input.publicKeyPem, now);
        return { name, role, agentId, groups, createdAt: iso(now), keys: [key] };
      }, DURABLE);
  }

  async addKey(principalName: string, publicKeyPem: string): Promise<PrincipalKey> {
    return inTransaction(this.#db, () => {
        if (this.#statements.principal.get(principalName) === undefined) throw new StoreError('principal_unknown', `no principal named ${principalName}`);
        return this.#insertKey(principalName, publicKeyPem, this.#now());
      }, DURABLE);
  }

  async revokeKey(keyId: string): Promise<PrincipalKey & { readonly principal: string }> {
    const now = this.#now();
    return inTransaction(this.#db, () => {
        const row = this.#statements.key.get(keyId) as KeyRow | undefined;
        if (row === undefined) throw new StoreError('key_unknown', `no key with id ${keyId}`);
        if (row.revoked_at !== null) throw new StoreError('key_revoked', `key ${keyId} was already revoked at ${iso(row.revoked_at)}`);
        this.#statements.revoke.run(now, keyId);
        return { ...toKey({ ...row, revoked_at: now }), principal: row.principal };
      }, DURABLE);
  }

  async listPrincipals(): Promise<Principal[]> {
    const rows = this.#statements.principals.all() as unknown as PrincipalRow[];
    return rows.map((row) => this.#principal(row, true));
  }

  async getPrincipal(name: string): Promise<Principal | undefined> {
    const row = this.#statements.principal.get(name) as PrincipalRow | undefined;
    return row === undefined ? undefined : this.#principal(row, true);
  }

  async lookupActiveKey(keyId: string): Promise<ActiveKey | undefined> {
    const key = this.#statements.key.get(keyId) as KeyRow | undefined;
    // Why here and nowhere else: the verifier trusts this answer, so a revoked key must never leave it.
    if (key === undefined || key.revoked_at !== null) return undefined;
    const row = this.#statements.principal.get(key.principal) as unknown as PrincipalRow;
    const { keys: _keys, ...principal } = this.#principal(row, false);
    return { keyId: key.key_id, publicKey: createPublicKey(key.public_key_pem), principal };
  }

  async close(): Promise<void> {
    if (this.audit instanceof SqliteAuditWriter) await this.audit.close();
    if (this.#db.isOpen) this.#db.close();
  }
}
