/**
 * Configuration of who may ask the control plane (`auth`) and where its store lives (`store`).
 * Kept apart from config.ts so the identity settings grow in one place.
 */
import type { z as Zod } from 'zod';
import type { LocalUser } from '../store/local-identity.ts';
import { PRINCIPAL_ROLES } from '../policy/request.ts';

/** Authentication settings. */
export interface AuthConfig {
  /** Local users of the unix socket by uid (root is always the operator `root` and is not listed). */
  localUsers: LocalUser[];
}

/** Where the controller's store lives. */
export interface StoreConfig {
  /** SQLite database file; null: `<stateDir>/store/airlock.db`. Its directory must be private to the controller. */
  path: string | null;
}

/** Defaults: no local user but root; the store under the state directory. */
export const DEFAULT_AUTH_CONFIG: Readonly<AuthConfig> = Object.freeze({ localUsers: Object.freeze([]) as unknown as LocalUser[] });
export const DEFAULT_STORE_CONFIG: Readonly<StoreConfig> = Object.freeze({ path: null });

// The same identifier rule as the store's principal names (src/store/principal-input.ts).
const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const IDENTIFIER_HINT = '1 to 64 of A-Z a-z 0-9 . _ @ -, starting with a letter or digit';

/** The zod schema of `auth`. */
export function authSchema(z: typeof Zod) {
  const localUser = z
    .object({
      uid: z.number().int().min(1).max(4_294_967_294).describe('Unix uid of the caller on the socket (SO_PEERCRED); root (0) is always the operator root.'),
      name: z.string().regex(IDENTIFIER, IDENTIFIER_HINT).describe('Principal name the uid acts as.'),
      role: z.enum(PRINCIPAL_ROLES).describe('Role of that principal: agent, operator or approver.'),
      agentId: z.string().regex(IDENTIFIER, IDENTIFIER_HINT).optional().describe('Tenancy id (a sandbox owner); default: the name.'),
      groups: z.array(z.string().regex(IDENTIFIER, IDENTIFIER_HINT)).default([]).describe('Groups policies may decide on.'),
    })
    .strict();
  return z
    .object({
      localUsers: z
        .array(localUser)
        // Why: two entries for one uid would make who a caller is depend on list order.
        .refine((users) => new Set(users.map((u) => u.uid)).size === users.length, 'each uid may be listed once')
        .default([])
        .describe('Unix-socket callers by uid and the principal each acts as; an unlisted uid other than root is refused.'),
    })
    .strict()
    .default({ localUsers: [] });
}

/** The zod schema of `store`. */
export function storeSchema(z: typeof Zod) {
  return z
    .object({
      path: z
        .string()
        .regex(/^\/./, 'an absolute file path')
        .nullable()
        .default(null)
        .describe('SQLite database file of principals, keys and nonces; null: <stateDir>/store/airlock.db. Its directory is made (or must be) owned by the controller, mode 0700.'),
    })
    .strict()
    .default({ path: null });
}
