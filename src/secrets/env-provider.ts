/**
 * Secrets from the controller's own environment, for deployments that inject them that way
 * (systemd credentials exported as variables, a Kubernetes Secret as env): the configuration maps
 * each secret name to the variable holding it (`secrets.env`). Only mapped variables are read.
 */
import type { SecretListing, SecretProvider } from './provider.ts';
import { checkSecretName } from './names.ts';
import { SecretValue } from './value.ts';

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

  async list(): Promise<SecretListing[]> {
    // Why only set variables: a mapped name whose variable is missing would fail at start, not be granted.
    return Object.keys(this.#mapping)
      .filter((name) => this.#raw(name) !== undefined)
      .sort()
      .map((name) => ({ name, provider: this.kind, updated_at: null }));
  }

  async get(name: string): Promise<SecretValue | undefined> {
    const raw = this.#raw(name);
    return raw === undefined ? undefined : new SecretValue(name, Buffer.from(raw));
  }

  #raw(name: string): string | undefined {
    const variable = Object.hasOwn(this.#mapping, name) ? this.#mapping[name] : undefined;
    if (variable === undefined) return undefined;
    const value = this.#env[variable];
    return value === undefined || value === '' ? undefined : value;
  }
}
