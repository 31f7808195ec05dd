/** Nonces of signed requests, kept in the SQLite store so a restart forgets none of them. */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { NonceCheck, ReplayCache } from '../../signing/replay-cache.ts';
import { inTransaction } from './transaction.ts';

/**
 * A {@link ReplayCache} in the store's database: a nonce stays until it expires, across restarts and
 * across processes sharing the file. Bounded: past `maxEntries` live nonces it answers `full` rather
 * than forget a live one (which could then be replayed).
 */
export class SqliteReplayCache implements ReplayCache {
  readonly #db: DatabaseSync;
  readonly #maxEntries: number;
  readonly #dropExpired: StatementSync;
  readonly #find: StatementSync;
  readonly #insert: StatementSync;
  readonly #live: StatementSync;
  readonly #adjust: StatementSync;

  constructor(db: DatabaseSync, maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    this.#db = db;
    this.#maxEntries = maxEntries;
    this.#dropExpired = db.prepare('DELETE FROM replay_nonces WHERE expires_at <= ?');
    this.#find = db.prepare('SELECT 1 FROM replay_nonces WHERE nonce = ?');
    this.#insert = db.prepare('INSERT INTO replay_nonces (nonce, expires_at) VALUES (?, ?)');
    this.#live = db.prepare('SELECT live FROM replay_nonce_count WHERE only_row = 1');
    // The count is kept beside the table so the bound costs no scan per request.
    this.#adjust = db.prepare('UPDATE replay_nonce_count SET live = live + ? WHERE only_row = 1');
  }

  async checkAndRemember(nonce: string, expiresAtMs: number, nowMs: number): Promise<NonceCheck> {
    return inTransaction(this.#db, (): NonceCheck => {
        const dropped = Number(this.#dropExpired.run(Math.floor(nowMs)).changes);
        if (dropped > 0) this.#adjust.run(-dropped);
        // After the sweep, any row left for this nonce is live.
        if (this.#find.get(nonce) !== undefined) return 'replayed';
        const live = (this.#live.get() as { live: number }).live;
        if (live >= this.#maxEntries) return 'full';
        this.#insert.run(nonce, Math.ceil(expiresAtMs));
        this.#adjust.run(1);
        return 'fresh';
      });
  }
}
