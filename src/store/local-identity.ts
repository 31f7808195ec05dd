/**
 * Local identities: a caller on the unix socket is known by its uid (SO_PEERCRED). Root is always the
 * operator `root`; any other uid is who `auth.localUsers` says, or nobody.
 */
import type { PrincipalRole } from '../policy/request.ts';

/** One configured local user: the uid and the principal it acts as. */
export interface LocalUser {
  readonly uid: number;
  readonly name: string;
  readonly role: PrincipalRole;
  /** Default: the name. */
  readonly agentId?: string | undefined;
  readonly groups?: readonly string[] | undefined;
}

/** The principal a local caller acts as (no keys: the kernel vouches for the uid). */
export interface LocalPrincipal {
  readonly name: string;
  readonly role: PrincipalRole;
  readonly agentId: string;
  readonly groups: readonly string[];
  readonly uid: number;
}

/** The name root acts under. */
export const ROOT_PRINCIPAL_NAME = 'root';

/**
 * The principal of a local caller with `uid`, or undefined for a uid the configuration does not list
 * (the caller must refuse it: an unlisted local user is nobody, not a guest).
 */
export function resolveLocalPrincipal(uid: number, localUsers: readonly LocalUser[]): LocalPrincipal | undefined {
  // Why fixed: root can read the store and the keys anyway; naming it anything else would only hide that.
  if (uid === 0) return { name: ROOT_PRINCIPAL_NAME, role: 'operator', agentId: ROOT_PRINCIPAL_NAME, groups: [], uid };
  const user = localUsers.find((u) => u.uid === uid);
  if (user === undefined) return undefined;
  return { name: user.name, role: user.role, agentId: user.agentId ?? user.name, groups: [...new Set(user.groups ?? [])].sort(), uid };
}
