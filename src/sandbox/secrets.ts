/**
 * A request's secrets, resolved once it is admitted: names to values through the controller's
 * providers. An unknown name is the caller's error (`secret_not_found`, naming it); a provider
 * that can't be read safely (a tampered value, a key others can read, a name two providers hold)
 * is the host's (`control_failed`), and the sandbox does not start.
 */
import type { SecretRegistry } from '../secrets/registry.ts';
import { UnknownSecretError } from '../secrets/registry.ts';
import type { SecretValue } from '../secrets/value.ts';
import { ServiceError } from './errors.ts';

/** Values for `names` (none when absent or empty). */
export async function resolveSecrets(registry: SecretRegistry, names: readonly string[] | undefined): Promise<SecretValue[]> {
  if (names === undefined || names.length === 0) return [];
  try {
    return (await registry.resolve(names)).map((r) => r.value);
  } catch (err) {
    if (err instanceof UnknownSecretError) throw new ServiceError('secret_not_found', err.message);
    // Why the message only: every secrets error names the secret and never quotes a value.
    throw new ServiceError('control_failed', `secrets: ${(err as Error).message}`, { cause: err });
  }
}
