/**
 * Nonce memory for replay refusal. The verifier asks once per verified signature; the cache answers
 * whether the nonce is new and remembers it until it expires.
 */

/** `fresh`: first use, now remembered; `replayed`: seen before and not yet expired; `full`: no room. */
export type NonceCheck = 'fresh' | 'replayed' | 'full';

/** Where nonces are remembered; a persistent store can implement this later. */
export interface ReplayCache {
  /**
   * Atomically checks `nonce` and, if fresh, remembers it until `expiresAtMs`.
   * Must answer `full` (never forget a live nonce) when it cannot remember more.
   */
  checkAndRemember(nonce: string, expiresAtMs: number, nowMs: number): NonceCheck | Promise<NonceCheck>;
}

/** Options of {@link MemoryReplayCache}. */
export interface MemoryReplayCacheOptions {
  /** The most live nonces held at once (default 100 000). */
  readonly maxEntries?: number;
}

/**
 * An in-memory, bounded replay cache: one per verifier instance, lost on restart. Expired nonces are
 * dropped as time passes; when every slot holds a live nonce it answers `full` rather than evicting one,
 * since an evicted nonce could be replayed.
 */
export class MemoryReplayCache implements ReplayCache {
  readonly #maxEntries: number;
  /** nonce → expiry (ms), in insertion order; expiries are close to insertion order (created ± skew). */
  readonly #entries = new Map<string, number>();

  constructor(options: MemoryReplayCacheOptions = {}) {
    const max = options.maxEntries ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxEntries must be a positive integer, got ${max}`);
    this.#maxEntries = max;
  }

  /** How many nonces are held (expired ones may linger until the next check). */
  get size(): number {
    return this.#entries.size;
  }

  checkAndRemember(nonce: string, expiresAtMs: number, nowMs: number): NonceCheck {
    this.#dropExpiredPrefix(nowMs);
    const known = this.#entries.get(nonce);
    if (known !== undefined && known > nowMs) return 'replayed';
    if (known !== undefined) this.#entries.delete(nonce);
    if (this.#entries.size >= this.#maxEntries) {
      this.#dropAllExpired(nowMs);
      if (this.#entries.size >= this.#maxEntries) return 'full';
    }
    this.#entries.set(nonce, expiresAtMs);
    return 'fresh';
  }

  /** Cheap, amortized: drop expired entries from the oldest end until a live one. */
  #dropExpiredPrefix(nowMs: number): void {
    for (const [nonce, expiry] of this.#entries) {
      if (expiry > nowMs) return;
      this.#entries.delete(nonce);
    }
  }

  #dropAllExpired(nowMs: number): void {
    for (const [nonce, expiry] of this.#entries) if (expiry <= nowMs) this.#entries.delete(nonce);
  }
}
