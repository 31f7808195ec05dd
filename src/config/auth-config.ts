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
  /**
   * Development switch, off by default: unsigned requests on a loopback TCP listener are accepted
   * as `unsignedLoopbackAs`. `airlock serve` warns while it is on and /health reports it.
   */
  unsignedLoopback: boolean;
  /** The principal unsigned loopback requests act as. */
  unsignedLoopbackAs: UnsignedLoopbackPrincipal;
  /** Largest distance between a signature's `created` and the server clock, seconds. */
  maxSkewSeconds: number;
}

/** Who an unsigned loopback request is, while the development switch is on. */
export interface UnsignedLoopbackPrincipal {
  name: string;
  role: LocalUser['role'];
  agentId?: string | undefined;
  groups: string[];
}

/** Where the controller's store lives. */
export interface StoreConfig {
  /** SQLite database file; null: `<stateDir>/store/airlock.db`. Its directory must be private to the controller. */
  path: string | null;
}

/** Defaults: no local user but root; the store under the state directory. */
export const DEFAULT_AUTH_CONFIG: Readonly<AuthConfig> = Object.freeze({
  localUsers: Object.freeze([]) as unknown as LocalUser[],
  unsignedLoopback: false,
  // Why an agent: a forgotten development switch then grants no more than an agent's own sandboxes.
  unsignedLoopbackAs: Object.freeze({ name: 'loopback', role: 'agent', groups: Object.freeze([]) as unknown as string[] }) as UnsignedLoopbackPrincipal,
  maxSkewSeconds: 60,
});
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
      unsignedLoopback: z
        .boolean()
        .default(false)
        .describe('DEVELOPMENT ONLY: accept unsigned requests on a loopback TCP listener as unsignedLoopbackAs. Any local process (and any local user) then acts as that principal.'),
      unsignedLoopbackAs: z
        .object({
          name: z.string().regex(IDENTIFIER, IDENTIFIER_HINT),
          role: z.enum(PRINCIPAL_ROLES),
          agentId: z.string().regex(IDENTIFIER, IDENTIFIER_HINT).optional(),
          groups: z.array(z.string().regex(IDENTIFIER, IDENTIFIER_HINT)).default([]),
        })
        .strict()
        .default({ name: 'loopback', role: 'agent', groups: [] })
        .describe('The principal unsigned loopback requests act as (default: the agent "loopback").'),
      maxSkewSeconds: z.number().int().min(1).max(3600).default(60).describe('Largest accepted distance between a signature\'s created time and the server clock, seconds.'),
    })
    .strict()
    .default({ localUsers: [], unsignedLoopback: false, unsignedLoopbackAs: { name: 'loopback', role: 'agent', groups: [] }, maxSkewSeconds: 60 });
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
