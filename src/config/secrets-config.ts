/** Configuration of secrets (`secrets`): which of the controller's environment variables hold which secret. */
import type { z as Zod } from 'zod';
import { SECRET_NAME_PATTERN, SECRET_NAME_RULE } from '../secrets/names.ts';
import { BINDING_VALUE_MARK, type SecretBinding } from '../secrets/binding.ts';

/** Secret settings. The encrypted store lives at `${stateDir}/secrets` and needs no setting. */
export interface SecretsConfig {
  /** Secret name → name of the controller's environment variable holding its value. */
  env: Record<string, string>;
  /** Secret name → the destinations it is brokered to (the sandbox only ever gets a placeholder). */
  bind: Record<string, SecretBinding>;
}

/** Default: no secret comes from the environment, none is brokered. */
export const DEFAULT_SECRETS_CONFIG: Readonly<SecretsConfig> = Object.freeze({ env: Object.freeze({}) as Record<string, string>, bind: Object.freeze({}) as Record<string, SecretBinding> });

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
      bind: z
        .record(
          z.string().regex(SECRET_NAME_PATTERN, `a secret name: ${SECRET_NAME_RULE}`),
          z
            .object({
              hosts: z.array(z.string().min(1).max(253).regex(/^[a-z0-9.-]+$/, 'a lower-case host name')).min(1),
              header: z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name'),
              format: z.string().max(256).refine((f) => f.includes(BINDING_VALUE_MARK), `must contain ${BINDING_VALUE_MARK}`),
              // Why off by default: over plain HTTP anyone on the network path (or who answers the DNS lookup) reads the real key.
              plainHttp: z.boolean().optional().describe('Allow the value over plain HTTP to outside hosts (default false: HTTPS only; internal services always may).'),
            })
            .strict(),
        )
        .default({})
        .describe('Brokered secrets: secret name → {hosts, header, format}. The sandbox gets a placeholder; the egress proxy puts the value in `header` only on requests to `hosts`.'),
    })
    .strict()
    .default({ env: {}, bind: {} });
}
