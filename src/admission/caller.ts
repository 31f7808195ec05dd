/**
 * Who is asking: the principal a request was authenticated as, and how. Every route handler and
 * every admission step reads the caller from here; nothing trusts a name the request body gives.
 */
import type { PrincipalRole } from '../policy/request.ts';

/** How a caller proved who it is. */
export type AuthenticationMethod =
  /** A unix-socket peer, identified by the kernel (SO_PEERCRED) and mapped by `auth.localUsers`. */
  | 'unix-socket'
  /** An RFC 9421 signature by a registered, unrevoked key. */
  | 'signature'
  /** The development switch `auth.unsignedLoopback`: an unsigned request on a loopback listener. */
  | 'unsigned-loopback'
  /** The CLI acting in-process (`airlock run`), as the unix user running it. */
  | 'local-process';

/** An authenticated principal with the attributes policies decide on. */
export interface Caller {
  /** Principal name (unique). */
  readonly name: string;
  readonly role: PrincipalRole;
  /** Tenancy id: the owner recorded on the sandboxes this caller creates. */
  readonly agentId: string;
  readonly groups: readonly string[];
  readonly via: AuthenticationMethod;
  /** Key id of the signature that authenticated the request (`signature` only). */
  readonly keyId?: string | undefined;
  /** Unix uid of a socket peer or the local process. */
  readonly uid?: number | undefined;
}
