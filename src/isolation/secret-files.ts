/**
 * The checks every driver applies to `SandboxSpec.secrets` before placing any, and the size of
 * the memory filesystem that holds them. Names become file names under SECRETS_MOUNT: a name
 * that is not exactly the secret-name shape is refused, never cleaned up.
 */
import { ControlError } from '../host/control-error.ts';
import type { SecretFile } from './driver.ts';

/**
 * Secret names: a lowercase letter, then up to 55 lowercase letters, digits, `_` or `-` (at most
 * 56, so that the principal group `secret.<name>` fits the 64 characters of a group name).
 */
export const SECRET_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,55}$/;

/** The rule in words, for refusals. */
export const SECRET_NAME_RULE = 'a lowercase letter, then up to 55 of a-z 0-9 _ -';

const PAGE = 4096;

/** Refuses a malformed or repeated name (the error names it, never a value). */
export function checkSecretFiles(secrets: readonly SecretFile[]): void {
  const seen = new Set<string>();
  for (const secret of secrets) {
    if (!SECRET_NAME_PATTERN.test(secret.name)) throw new ControlError('secrets', `${JSON.stringify(secret.name).slice(0, 80)} is not a secret name`);
    if (seen.has(secret.name)) throw new ControlError(`secret ${secret.name}`, 'is given twice');
    seen.add(secret.name);
  }
}

/** A secret's value; one that can't be read stops the start, naming the secret (never quoting a value). */
export function secretBytes(secret: SecretFile): Buffer {
  try {
    return secret.bytes();
  } catch (err) {
    throw new ControlError(`secret ${secret.name}`, `its value could not be read: ${(err as Error).message}`, { cause: err });
  }
}

/** Bytes of a tmpfs that holds `secrets` exactly: each file rounded to pages, plus a page of slack. */
export function secretsTmpfsBytes(secrets: readonly SecretFile[]): number {
  return secrets.reduce((sum, s) => sum + Math.max(1, Math.ceil(secretBytes(s).length / PAGE)) * PAGE, PAGE);
}
