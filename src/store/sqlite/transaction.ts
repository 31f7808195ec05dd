/** Write transactions of the SQLite store. */
import type { DatabaseSync } from 'node:sqlite';

/** How durable a commit must be. */
export interface TransactionOptions {
  /**
   * Synced to disk before the commit returns (survives a host crash or power loss). Otherwise the
   * connection's default (WAL, synchronous NORMAL): it survives a controller crash or restart, and
   * costs a tenth as much, which is what the per-request nonce write needs.
   */
  readonly durable?: boolean;
}

/**
 * Runs `work` in a `BEGIN IMMEDIATE` transaction: committed if it returns, rolled back if it throws,
 * so a refused write changes nothing. Immediate: the write lock is taken up front, so concurrent
 * writers from other processes wait (busy timeout) instead of failing half-way on lock upgrade.
 */
export function inTransaction<T>(db: DatabaseSync, work: () => T, options: TransactionOptions = {}): T {
  // Per transaction: PRAGMA synchronous applies to the connection and can't change inside a transaction.
  if (options.durable === true) db.exec('PRAGMA synchronous = FULL');
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  } finally {
    if (options.durable === true) db.exec('PRAGMA synchronous = NORMAL');
  }
}
