/**
 * A secret's value in controller memory. It never prints itself: `String()`, JSON, `util.inspect`
 * and template strings all give a marker, so a value that strays into a log line, an error, an
 * approval summary or an API answer shows the marker, not the bytes.
 */

/**
 * util.inspect.custom, by its documented global name: importing node:util for it would load all
 * of util's lazy parts (worker_threads among them) on every airlock run's start-up.
 */
const INSPECT_CUSTOM = Symbol.for('nodejs.util.inspect.custom');

/** Longest value a secret may have (it lives in memory and on a small tmpfs). */
export const MAX_SECRET_BYTES = 64 * 1024;

/**
 * Shortest value: every occurrence of a value is redacted from output, and a value this short
 * would match ordinary output.
 */
export const MIN_SECRET_BYTES = 8;

/** A value that does not fit the size bounds. */
export class SecretValueError extends Error {
  override readonly name = 'SecretValueError';
}

/** Checks a value's size; the message names the secret, never quotes the value. */
export function checkSecretValue(name: string, bytes: Buffer): void {
  if (bytes.length < MIN_SECRET_BYTES) throw new SecretValueError(`secret ${name}: a value must be at least ${MIN_SECRET_BYTES} bytes (shorter ones can't be redacted from output reliably)`);
  if (bytes.length > MAX_SECRET_BYTES) throw new SecretValueError(`secret ${name}: a value may be at most ${MAX_SECRET_BYTES} bytes`);
}

/** One secret's bytes, held privately. */
export class SecretValue {
  readonly name: string;
  readonly #bytes: Buffer;

  constructor(name: string, bytes: Buffer) {
    checkSecretValue(name, bytes);
    this.name = name;
    // Why a copy: the caller's buffer may be reused or pooled.
    this.#bytes = Buffer.from(bytes);
  }

  /** A copy of the bytes (the only way to read them). */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  /** Length in bytes. */
  get length(): number {
    return this.#bytes.length;
  }

  toString(): string {
    return `[secret:${this.name}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}
