/**
 * Secrets from the controller's own environment, for deployments that inject them that way
 * (systemd credentials exported as variables, a Kubernetes Secret as env): the configuration maps
 * each secret name to the variable holding it (`secrets.env`). Only mapped variables are read.
 */
import type { SecretListing, SecretProvider } from './provider.ts';
import { checkSecretName } from './names.ts';
import { SecretValue } from './value.ts';

/** A mapped variable that is not set. */
export class EnvSecretMissingError extends Error {
  override readonly name = 'EnvSecretMissingError';
}

/** The environment provider (kind `env`). */
export class EnvSecretProvider implements SecretProvider {
  readonly kind = 'env';
  readonly #mapping: Readonly<Record<string, string>>;
  readonly #env: NodeJS.ProcessEnv;

  /** `mapping`: secret name → variable name; `env`: the environment to read (the process's by default). */
  constructor(mapping: Readonly<Record<string, string>>, env: NodeJS.ProcessEnv = process.env) {
    for (const name of Object.keys(mapping)) checkSecretName(name);
    this.#mapping = mapping;
    this.#env = env;
  }

  /**
   * Every mapped name, set or not: the listing describes the configuration (`airlock secrets ls`
   * runs in a shell, not in the controller's environment, so it can't tell what is set there).
   */
  async list(): Promise<SecretListing[]> {
    return Object.keys(this.#mapping)
      .sort()
      .map((name) => ({ name, provider: this.kind, updated_at: null }));
  }

  /** The value; a mapped name whose variable is unset or empty is an error naming both, never "unknown". */
  async get(name: string): Promise<SecretValue | undefined> {
    const variable = Object.hasOwn(this.#mapping, name) ? this.#mapping[name] : undefined;
    if (variable === undefined) return undefined;
    const value = this.#env[variable];
    // Why an error: the configuration promises this secret; handing out nothing would hide the misconfiguration.
    if (value === undefined || value === '') throw new EnvSecretMissingError(`secret ${name}: ${variable} is not set in the controller's environment`);
    return new SecretValue(name, Buffer.from(value));
  }
}
