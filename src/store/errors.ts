/** Errors of the store, with string codes (callers map them; the store knows nothing of HTTP). */

/** Why the store refused. */
export type StoreErrorCode =
  /** Input the store would not accept (a name, group or key that is malformed). */
  | 'invalid_input'
  | 'principal_exists'
  | 'principal_unknown'
  | 'key_exists'
  | 'key_unknown'
  | 'key_revoked'
  /** A signed revocation list no newer than the last one applied from its issuer. */
  | 'stale_list'
  /** The database file or its directory is not private to the controller, or is not a plain file. */
  | 'store_unsafe'
  /** The database was written by a newer airlock (a migration this code does not know). */
  | 'store_too_new';

/** A refusal or failure of the store; nothing was changed when it is thrown from a write. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Whether `err` is a refusal of what the caller asked (as opposed to the store being broken). */
export function isInputRefusal(err: unknown): err is StoreError {
  return err instanceof StoreError && err.code !== 'store_unsafe' && err.code !== 'store_too_new';
}
