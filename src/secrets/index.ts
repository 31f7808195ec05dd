/** Secrets: providers, the registry that resolves names for a sandbox, and the redactor. */
import type { AirlockConfig } from '../config/config.ts';
import { EnvSecretProvider } from './env-provider.ts';
import { FileSecretStore } from './file-store.ts';
import { SecretRegistry } from './registry.ts';

export { FileSecretStore, SecretStoreError } from './file-store.ts';
export { EnvSecretMissingError, EnvSecretProvider } from './env-provider.ts';
export { SecretRegistry, UnknownSecretError, AmbiguousSecretError } from './registry.ts';
export { Redactor, redactionMarker, type RedactedSecret, type RedactingStream } from './redactor.ts';
export { BINDING_VALUE_MARK, placeholderFor, type SecretBinding } from './binding.ts';
export { SecretValue, SecretValueError, MIN_SECRET_BYTES, MAX_SECRET_BYTES } from './value.ts';
export { checkSecretName, checkSecretNames, isSecretName, SecretNameError, SECRET_NAME_PATTERN, SECRET_NAME_RULE, MAX_SECRETS_PER_REQUEST } from './names.ts';
export type { ResolvedSecret, SecretDelivery, SecretListing, SecretProvider, WritableSecretProvider } from './provider.ts';

/** The controller's encrypted store: `${stateDir}/secrets`. */
export function secretStoreFor(config: AirlockConfig): FileSecretStore {
  return new FileSecretStore(`${config.stateDir}/secrets`);
}

/** Every provider of a controller, in the order they are asked: the store, then the environment. */
export function secretRegistryFor(config: AirlockConfig, env: NodeJS.ProcessEnv = process.env): SecretRegistry {
  return new SecretRegistry([secretStoreFor(config), new EnvSecretProvider(config.secrets.env, env)], config.secrets.bind);
}
