/**
 * Brokered credentials: a secret bound to destinations is never put inside the sandbox. The
 * sandbox gets a random placeholder token (at /run/secrets/NAME, like any secret); the egress
 * proxy swaps the real value in only on requests to the bound hosts and refuses the placeholder
 * anywhere else.
 */
import { randomBytes } from 'node:crypto';
import { SecretValue } from './value.ts';

/** Where a brokered secret may go, and how it is presented there. */
export interface SecretBinding {
  /** Canonical host names (or `NAME.airlock.internal` for an internal service) the value may reach. */
  hosts: string[];
  /** The request header that carries it (e.g. `Authorization`). */
  header: string;
  /** That header's value, `{value}` standing for the secret (e.g. `Bearer {value}`). */
  format: string;
  /**
   * Whether the value may go to an outside host over plain HTTP (default false: only over HTTPS,
   * where the proxy verifies the host). Internal services are reached over the host itself and
   * always may.
   */
  plainHttp?: boolean | undefined;
}

/** The text `{value}` stands for in a binding's format. */
export const BINDING_VALUE_MARK = '{value}';

/**
 * A fresh placeholder for one secret in one sandbox: a recognisable prefix and 128 random bits,
 * in characters that survive headers, URLs and shells unchanged.
 */
export function placeholderFor(name: string): SecretValue {
  // Why random per sandbox: a placeholder seen by one sandbox must not unlock the value for another.
  return new SecretValue(name, Buffer.from(`airlock-brokered-${randomBytes(16).toString('hex')}`));
}
