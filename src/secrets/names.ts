/**
 * Secret names. A name becomes a file name (`/run/secrets/NAME`), a Cedar entity id and a
 * redaction marker, so it is held to one strict shape everywhere it enters.
 */

import { SECRET_NAME_PATTERN } from '../isolation/secret-files.ts';

/** Lowercase letter first, then lowercase letters, digits, `_` or `-`; at most 64 characters (the drivers hold the rule). */
export { SECRET_NAME_PATTERN };

/** Most secrets one request may name. */
export const MAX_SECRETS_PER_REQUEST = 32;

/** A name that does not fit {@link SECRET_NAME_PATTERN}. */
export class SecretNameError extends Error {
  override readonly name = 'SecretNameError';
}

/** Whether `name` is a valid secret name. */
export function isSecretName(name: unknown): name is string {
  return typeof name === 'string' && SECRET_NAME_PATTERN.test(name);
}

/** Returns `name` or throws a SecretNameError that quotes it (JSON-escaped, at most 80 characters). */
export function checkSecretName(name: unknown): string {
  // Why quoted through JSON: a bad name may hold control characters that must not reach a terminal or log as is.
  if (!isSecretName(name)) throw new SecretNameError(`${JSON.stringify(String(name)).slice(0, 80)} is not a secret name (a lowercase letter, then up to 63 of a-z 0-9 _ -)`);
  return name;
}

/** Checks a request's list of names: each valid, none twice, at most {@link MAX_SECRETS_PER_REQUEST}. */
export function checkSecretNames(names: readonly unknown[]): string[] {
  if (names.length > MAX_SECRETS_PER_REQUEST) throw new SecretNameError(`at most ${MAX_SECRETS_PER_REQUEST} secrets per request, got ${names.length}`);
  const seen = new Set<string>();
  for (const raw of names) {
    const name = checkSecretName(raw);
    if (seen.has(name)) throw new SecretNameError(`${name} is named twice`);
    seen.add(name);
  }
  return [...seen];
}
