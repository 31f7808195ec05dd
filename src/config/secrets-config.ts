/** Configuration of secrets (`secrets`): which of the controller's environment variables hold which secret. */
import type { z as Zod } from 'zod';
import { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../secrets/names.ts';

/** Secret settings. The encrypted store lives at `${stateDir}/secrets` and needs no setting. */
export interface SecretsConfig {
  /** Secret name → name of the controller's environment variable holding its value. */
  env: Record<string, string>;
}

/** Default: no secret comes from the environment. */
export const DEFAULT_SECRETS_CONFIG: Readonly<SecretsConfig> = Object.freeze({ env: Object.freeze({}) as Record<string, string> });

/** The zod schema of `secrets`. */
export function secretsSchema(z: typeof Zod) {
  return z
    .object({
      env: z
        .record(
          z.string().regex(SECRET_NAME_PATTERN, `a secret name: ${SECRET_NAME_RULE}`),
          z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name'),
        )
        .default({})
        .describe('Secrets taken from the controller\'s own environment: secret name → variable name (e.g. {"openai_key": "OPENAI_API_KEY"}).'),
    })
    .strict()
    .default({ env: {} });
}
