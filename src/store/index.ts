/** The controller's store: the interface, its embedded SQLite implementation, and local identities. */
import { join } from 'node:path';
import type { AirlockConfig } from '../config/config.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';
import type { ControlStore } from './store.ts';

export type { ActiveKey, ControlStore, NewPrincipal, Principal, PrincipalKey, PrincipalRole } from './store.ts';
export { approvalExpired, type ApprovalStore, type NewApproval, type StoredApproval, type StoredApprovalState } from './approvals.ts';
export type { ImportOutcome, Revocation, RevocationStore } from './revocations.ts';
export type { ContractStore, StoredContract } from './contracts.ts';
export type { AuditAppended, AuditLeafInput, AuditQuery, AuditStore, StoredAuditRow } from './audit.ts';
export { StoreError, isInputRefusal, type StoreErrorCode } from './errors.ts';
export { SqliteStore, type SqliteStoreOptions } from './sqlite/sqlite-store.ts';
export { resolveLocalPrincipal, ROOT_PRINCIPAL_NAME, type LocalPrincipal, type LocalUser } from './local-identity.ts';

/**
 * Where the SQLite store lives: `store.path`, else `<stateDir>/store/airlock.db`. A directory of its
 * own because the state directory itself must stay traversable (images are bound from it by
 * unprivileged sandbox uids), while the store's directory is private to the controller.
 */
export function storePath(config: Pick<AirlockConfig, 'stateDir' | 'store'>): string {
  return config.store.path ?? join(config.stateDir, 'store', 'airlock.db');
}

/** Opens the configured store (the embedded SQLite one). */
export async function openStore(config: Pick<AirlockConfig, 'stateDir' | 'store'> & { audit?: Pick<AirlockConfig['audit'], 'sync'> }): Promise<ControlStore> {
  return SqliteStore.open({ path: storePath(config), auditSync: config.audit?.sync });
}
