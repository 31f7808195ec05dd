/** The rules for what a principal's name, agent id, groups and keys may be: one place for each. */
import { keyId as thumbprint, parsePublicKeyPem } from '../signing/keys.ts';
import { PRINCIPAL_ROLES, type PrincipalRole } from '../policy/request.ts';
import { StoreError } from './errors.ts';

// Why this alphabet: names are printed in tables, logs and Cedar entity ids; no spaces, no control or
// display-rewriting characters, no path separators, and a letter or digit first so no option lookalike.
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Returns `value` if it is a valid identifier (a name, agent id or group); `what` names it. */
export function checkIdentifier(value: string, what: string): string {
  if (!IDENTIFIER.test(value)) {
    throw new StoreError('invalid_input', `${what} ${JSON.stringify(value)} is not valid: 1 to 64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit`);
  }
  return value;
}

/** Returns `value` as a role, or refuses naming the roles there are. */
export function checkRole(value: string): PrincipalRole {
  if (!(PRINCIPAL_ROLES as readonly string[]).includes(value)) {
    throw new StoreError('invalid_input', `role ${JSON.stringify(value)} is not one of ${PRINCIPAL_ROLES.join(', ')}`);
  }
  return value as PrincipalRole;
}

/** Groups sorted and deduplicated, each checked. */
export function checkGroups(groups: readonly string[]): string[] {
  return [...new Set(groups.map((g) => checkIdentifier(g, 'group')))].sort();
}

/** A public key as the store keeps it: its canonical SPKI PEM and the id computed from it. */
export interface CheckedPublicKey {
  readonly keyId: string;
  readonly publicKeyPem: string;
}

/**
 * Parses `pem` as an Ed25519 SPKI public key and computes its key id. Why computed here: an id taken
 * from input could name another principal's key; the thumbprint is the only id the verifier trusts.
 */
export function checkPublicKey(pem: string): CheckedPublicKey {
  let key;
  try {
    key = parsePublicKeyPem(pem, 'the key');
  } catch (err) {
    throw new StoreError('invalid_input', (err as Error).message, { cause: err });
  }
  // Re-exported rather than stored as given: one canonical text per key, whatever the input's layout.
  return { keyId: thumbprint(key), publicKeyPem: key.export({ type: 'spki', format: 'pem' }).toString() };
}
