/**
 * Builds a controller's access control once, at start: the Cedar bundle (validated: a bad bundle
 * stops the controller, naming the file and line), the authenticator over the store's keys, the
 * approval gate on the store, and the admission path that ties them. `airlock serve`, `airlock run`
 * and the SDK's test server all get theirs here, so none can skip a step.
 */
import type { AirlockConfig } from '../config/config.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { policyDirOf } from '../policy/bundle-files.ts';
import type { ControlStore } from '../store/store.ts';
import { StoreApprovalGate, type ApprovalGate } from '../approvals/gate.ts';
import { AdmissionRefusal } from './refusal.ts';
import { Admission } from './admission.ts';
import { Authenticator } from './authenticate.ts';

/** A controller's access control. */
export interface Access {
  engine: PolicyEngine;
  authenticator: Authenticator;
  admission: Admission;
  /** The approval gate on the store; the unavailable gate when there is no store. */
  approvals: ApprovalGate;
}

function unavailable(): never {
  throw new AdmissionRefusal('approval', 'approval_unavailable', 'this controller keeps no approvals (it has no store)');
}

/** The gate of a controller without a store: every call is refused as unavailable. */
export const UNAVAILABLE_APPROVALS: ApprovalGate = Object.freeze({ open: unavailable, redeem: unavailable, decide: unavailable, list: unavailable, get: unavailable });

/** Options of {@link createAccess}. */
export interface AccessOptions {
  config: Pick<AirlockConfig, 'auth' | 'policy' | 'defaultImage' | 'approvals'>;
  /**
   * Keys, nonces and approvals. Without a store, signed requests are refused (no key can be known)
   * and requests that need an approval are refused (`approval_unavailable`).
   */
  store?: ControlStore | undefined;
  /** An already loaded engine (default: load the configured bundle). */
  engine?: PolicyEngine | undefined;
}

/** Loads the policy bundle and builds the authenticator and the admission path over `store`. */
export async function createAccess(options: AccessOptions): Promise<Access> {
  const { config, store } = options;
  const engine = options.engine ?? (await PolicyEngine.load(policyDirOf(config.policy)));
  const authenticator = new Authenticator({ auth: config.auth, store });
  const approvals =
    store === undefined
      ? undefined
      : // Who may decide is the gate's rule (the approver role, never the requester): see src/approvals/gate.ts.
        new StoreApprovalGate({ store, ttlSeconds: config.approvals.ttlSeconds });
  const admission = new Admission({ engine, settings: { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots }, approvals });
  return { engine, authenticator, admission, approvals: approvals ?? UNAVAILABLE_APPROVALS };
}
