/** The controller's audit log, opened at start: its store, its key (created on first start), and a first head. */
import type { KeyObject } from 'node:crypto';
import type { AirlockConfig } from '../config/config.ts';
import type { AuditStore } from '../store/audit.ts';
import { SqliteAuditStore } from '../store/sqlite/audit-store.ts';
import { SqliteAuditWriter } from '../store/sqlite/audit-writer.ts';
import { DEFAULT_BUSY_TIMEOUT_MS } from '../store/sqlite/sqlite-store.ts';
import { controllerKeyPath, controllerPublicKeyPath, loadOrCreateControllerKey } from './controller-key.ts';
import { AuditLog } from './log.ts';

/** A controller's audit log and the key that signs its heads. */
export interface ControllerAudit {
  readonly log: AuditLog;
  readonly controllerKey: KeyObject;
  /** Where the key's public half is (what verifiers are given). */
  readonly publicKeyPath: string;
  /** Releases what the log opened (the PostgreSQL pool, or the SQLite writer threads); the SQLite store itself is closed with the store. */
  close(): Promise<void>;
}

/**
 * Opens the audit log with the controller key of `config` (created when missing): in PostgreSQL when
 * `audit.postgresUrl` is set, else on `store` (the SQLite store's audit tables at `storePath`), whose
 * commits then run in a worker thread so they never stall the controller's event loop.
 */
export async function openControllerAudit(config: Pick<AirlockConfig, 'audit'>, storePath: string, store: AuditStore): Promise<ControllerAudit> {
  const path = controllerKeyPath(config, storePath);
  const controllerKey = await loadOrCreateControllerKey(path);
  const publicKeyPath = controllerPublicKeyPath(path);
  const opened = await openAuditStore(config, store);
  if (!(opened.store instanceof SqliteAuditStore)) return { log: new AuditLog({ store: opened.store, signingKey: controllerKey }), controllerKey, publicKeyPath, close: opened.close };
  const writer = new SqliteAuditWriter(opened.store, { path: storePath, busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS, sync: config.audit.sync });
  return { log: new AuditLog({ store: writer, signingKey: controllerKey }), controllerKey, publicKeyPath, close: () => writer.close() };
}

/** The configured audit store: PostgreSQL when `audit.postgresUrl` is set, else `sqlite` (the SQLite store's). */
export async function openAuditStore(config: Pick<AirlockConfig, 'audit'>, sqlite: AuditStore): Promise<{ store: AuditStore; close: () => Promise<void> }> {
  const url = config.audit.postgresUrl;
  if (url === null) return { store: sqlite, close: async () => undefined };
  // Loaded only when configured: a controller on SQLite never loads the PostgreSQL client.
  const pg = (await import('pg')).default;
  const { PostgresAuditStore } = await import('../store/postgres/audit-store.ts');
  const pool = new pg.Pool({ connectionString: url });
  // Why: an idle connection lost (a server restart) must not crash the controller; the next append reports it.
  pool.on('error', () => undefined);
  try {
    return { store: await PostgresAuditStore.open(pool), close: () => pool.end() };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`audit.postgresUrl: the PostgreSQL audit store could not be opened: ${(err as Error).message}`, { cause: err });
  }
}
