/**
 * The controller's store: principals with their keys, and the nonces of signed requests. One
 * interface with an embedded SQLite implementation (the default); a server database can implement
 * the same interface. Every method is asynchronous so that a networked implementation fits.
 */
import type { KeyObject } from 'node:crypto';
import type { PrincipalRole } from '../policy/request.ts';
import type { ApprovalStore } from './approvals.ts';
import type { AuditStore } from './audit.ts';
import type { RevocationStore } from './revocations.ts';
import type { ContractStore } from './contracts.ts';
import type { ReplayCache } from '../signing/replay-cache.ts';
import type { VerificationKey } from '../signing/verify.ts';

export type { PrincipalRole } from '../policy/request.ts';

/** One registered public key of a principal. */
export interface PrincipalKey {
  /** RFC 7638 JWK SHA-256 thumbprint, base64url: computed by the store, never taken from input. */
  readonly keyId: string;
  /** SPKI PEM of the Ed25519 public key. */
  readonly publicKeyPem: string;
  /** When the key was registered (ISO 8601). */
  readonly addedAt: string;
  /** When the key was revoked (ISO 8601); null while active. A revoked key never verifies again. */
  readonly revokedAt: string | null;
}

/** Who may ask the control plane for something, with the attributes policies decide on. */
export interface Principal {
  /** Unique name; also the principal's id in policies. */
  readonly name: string;
  readonly role: PrincipalRole;
  /** Tenancy id: a sandbox's owner. Defaults to the name. */
  readonly agentId: string;
  /** Sorted, without duplicates. */
  readonly groups: readonly string[];
  /** When the principal was registered (ISO 8601). */
  readonly createdAt: string;
  /** Every key, revoked ones included, oldest first. */
  readonly keys: readonly PrincipalKey[];
}

/** What registering a principal needs. */
export interface NewPrincipal {
  readonly name: string;
  readonly role: PrincipalRole;
  /** Default: the name. */
  readonly agentId?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  /** SPKI PEM of its first Ed25519 public key. */
  readonly publicKeyPem: string;
}

/** An active key with its principal: what the request verifier's `lookupKey` returns. */
export interface ActiveKey extends VerificationKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  /** The principal, without its keys. */
  readonly principal: Omit<Principal, 'keys'>;
}

/** The store of the control plane. */
export interface ControlStore {
  /** Registers a principal with its first key; refuses a taken name or an already registered key. */
  addPrincipal(input: NewPrincipal): Promise<Principal>;
  /** Adds a key to an existing principal; refuses a key registered before (even revoked). */
  addKey(principalName: string, publicKeyPem: string): Promise<PrincipalKey>;
  /** Revokes a key for good; refuses an unknown or already revoked key. Returns the revoked key. */
  revokeKey(keyId: string): Promise<PrincipalKey & { readonly principal: string }>;
  /** Every principal, by name. */
  listPrincipals(): Promise<Principal[]>;
  /** One principal, or undefined. */
  getPrincipal(name: string): Promise<Principal | undefined>;
  /** The key with this id if it is registered and not revoked; fits the verifier's `lookupKey`. */
  lookupActiveKey(keyId: string): Promise<ActiveKey | undefined>;
  /** Nonce memory that survives restarts; see {@link ReplayCache}. */
  readonly replayCache: ReplayCache;
  /** Pending and decided approvals; they survive restarts. */
  readonly approvals: ApprovalStore;
  /** The append-only audit log (src/audit keeps its rules). */
  readonly audit: AuditStore;
  /** Revoked agents (src/revocation keeps the rules). */
  readonly revocations: RevocationStore;
  /** Behavior contracts of agents (src/contracts keeps the rules). */
  readonly contracts: ContractStore;
  /** Releases the store; later calls fail. */
  close(): Promise<void>;
}
