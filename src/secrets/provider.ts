/**
 * Where secret values come from. Every provider answers the same two questions (which names do
 * you hold, what is this one's value); the registry (./registry.ts) asks them in order.
 *
 * A resolved secret says how it is delivered. Today every secret is a `file` under
 * /run/secrets; a brokered credential (a value bound to destinations, swapped in by the egress
 * proxy) is a further delivery kind a provider can report without changing this interface.
 */
import type { SecretValue } from './value.ts';
import type { SecretBinding } from './binding.ts';

/** One entry of a listing: a name and where it comes from, never the value. */
export interface SecretListing {
  name: string;
  provider: string;
  /** ISO time it was last set, when the provider knows. */
  updated_at: string | null;
}

/** A source of secret values. */
export interface SecretProvider {
  /** Short name shown in listings and errors (`store`, `env`). */
  readonly kind: string;
  /** The names it holds. */
  list(): Promise<SecretListing[]>;
  /** The value of `name`, or undefined when this provider doesn't hold it. */
  get(name: string): Promise<SecretValue | undefined>;
}

/** A provider the controller writes to (`airlock secrets set|rm`). */
export interface WritableSecretProvider extends SecretProvider {
  set(name: string, value: Buffer): Promise<void>;
  /** True when it held `name`. */
  remove(name: string): Promise<boolean>;
}

/**
 * How a granted secret reaches the sandbox: `file` puts `value` at /run/secrets/NAME; `brokered`
 * puts `value` (then a placeholder) there and keeps the real value here, for the egress proxy.
 */
export type SecretDelivery = { kind: 'file' } | { kind: 'brokered'; bind: SecretBinding; real: SecretValue };

/** A secret resolved for one sandbox. */
export interface ResolvedSecret {
  name: string;
  provider: string;
  /** What the sandbox gets: the value, or a brokered secret's placeholder (never its real value). */
  value: SecretValue;
  delivery: SecretDelivery;
}
