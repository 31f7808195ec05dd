/**
 * Secret names. A name becomes a file name (`/run/secrets/NAME`), a Cedar entity id and a
 * redaction marker, so it is held to one strict shape everywhere it enters.
 */

import { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../isolation/secret-files.ts';

/** The secret-name rule (held where the drivers, which turn names into file names, can use it). */
export { SECRET_NAME_PATTERN, SECRET_NAME_RULE };

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
  if (!isSecretName(name)) throw new SecretNameError(`${JSON.stringify(String(name)).slice(0, 80)} is not a secret name (${SECRET_NAME_RULE})`);
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
