/**
 * The secrets a controller can hand out: its providers, asked in order (the encrypted store
 * first, then the environment). A name two providers hold is refused rather than guessed at.
 */
import type { ResolvedSecret, SecretListing, SecretProvider } from './provider.ts';
import { checkSecretName } from './names.ts';
import { placeholderFor, type SecretBinding } from './binding.ts';

/** A requested secret that no provider holds. */
export class UnknownSecretError extends Error {
  override readonly name = 'UnknownSecretError';
  readonly secret: string;

  constructor(secret: string) {
    super(`no secret named ${secret}`);
    this.secret = secret;
  }
}

/** A name held by more than one provider: which value is meant can't be known. */
export class AmbiguousSecretError extends Error {
  override readonly name = 'AmbiguousSecretError';
}

/** Resolves secret names to values through the configured providers. */
export class SecretRegistry {
  readonly #providers: readonly SecretProvider[];
  readonly #bindings: Readonly<Record<string, SecretBinding>>;

  /** `bindings`: secret name → the destinations it is brokered to (`secrets.bind`). */
  constructor(providers: readonly SecretProvider[], bindings: Readonly<Record<string, SecretBinding>> = {}) {
    this.#providers = providers;
    this.#bindings = bindings;
  }

  /** Every name, with its provider (never a value). */
  async list(): Promise<SecretListing[]> {
    const all = (await Promise.all(this.#providers.map((p) => p.list()))).flat();
    return all.sort((a, b) => a.name.localeCompare(b.name) || a.provider.localeCompare(b.provider));
  }

  /** Values for `names`, in order; throws UnknownSecretError naming the first one no provider holds. */
  async resolve(names: readonly string[]): Promise<ResolvedSecret[]> {
    const resolved: ResolvedSecret[] = [];
    for (const name of names) {
      checkSecretName(name);
      const found: ResolvedSecret[] = [];
      for (const provider of this.#providers) {
        const value = await provider.get(name);
        if (value !== undefined) found.push({ name, provider: provider.kind, value, delivery: { kind: 'file' } });
      }
      if (found.length === 0) throw new UnknownSecretError(name);
      // Why refuse: the store and the environment disagreeing about a name is a configuration error, not a choice to make silently.
      if (found.length > 1) throw new AmbiguousSecretError(`secret ${name} is held by ${found.map((f) => f.provider).join(' and ')}; remove one`);
      const secret = found[0] as ResolvedSecret;
      const bind = Object.hasOwn(this.#bindings, name) ? this.#bindings[name] : undefined;
      // Why the placeholder in `value`: a consumer that ignores the delivery kind still never hands the real key to a sandbox.
      resolved.push(bind === undefined ? secret : { ...secret, value: placeholderFor(name), delivery: { kind: 'brokered', bind, real: secret.value } });
    }
    return resolved;
  }
}
