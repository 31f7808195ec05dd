/**
 * Builds a controller's access control once, at start: the Cedar bundle (validated: a bad bundle
 * stops the controller, naming the file and line), the authenticator over the store's keys, the
 * approval gate on the store, and the admission path that ties them. `airlock serve`, `airlock run`
 * and the SDK's test server all get theirs here, so none can skip a step.
 */
import type { AirlockConfig } from '../config/config.ts';
import { imagePolicyActive } from '../config/image-policy-config.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { policyDirOf } from '../policy/bundle-files.ts';
import type { ControlStore } from '../store/store.ts';
import type { ApprovalGate } from '../approvals/gate.ts';
import type { PendingApprovalView } from '../approvals/view.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { AdmissionRefusal } from './refusal.ts';
import { Admission } from './admission.ts';
import { Authenticator } from './authenticate.ts';
import type { AuditLog } from '../audit/log.ts';

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
  config: Pick<AirlockConfig, 'auth' | 'policy' | 'defaultImage' | 'approvals'> & Partial<Pick<AirlockConfig, 'stateDir' | 'imagePolicy'>>;
  /**
   * Keys, nonces and approvals. Without a store, signed requests are refused (no key can be known)
   * and requests that need an approval are refused (`approval_unavailable`).
   */
  store?: ControlStore | undefined;
  /** Where decisions and approvals are recorded; without it nothing is (tests, embedders). */
  audit?: AuditLog | undefined;
  /** An already loaded engine (default: load the configured bundle). */
  engine?: PolicyEngine | undefined;
}

/**
 * The sandbox an approval is about, from what admission recorded in its summary (the owner and the
 * resolved spec); undefined, so the signer check fails closed, when the summary holds none.
 */
function approvalSandbox(approval: PendingApprovalView): { id: string; owner: string; spec: SandboxSpec } | undefined {
  const summary = approval.summary as { owner?: unknown; spec?: unknown } | null;
  if (summary === null || typeof summary !== 'object' || typeof summary.owner !== 'string' || summary.spec === null || typeof summary.spec !== 'object') return undefined;
  return { id: approval.sandbox_id ?? 'new', owner: summary.owner, spec: summary.spec as SandboxSpec };
}

/** Loads the policy bundle and builds the authenticator and the admission path over `store`. */
export async function createAccess(options: AccessOptions): Promise<Access> {
  const { config, store } = options;
  const engine = options.engine ?? (await PolicyEngine.load(policyDirOf(config.policy)));
  const authenticator = new Authenticator({ auth: config.auth, store });
  const settings = { defaultImage: config.defaultImage, hostRoots: config.policy.hostRoots };
  // The approval modules load only with a store: a controller without one (most `airlock run`s)
  // refuses every approval as unavailable and never needs them.
  const approvals =
    store === undefined
      ? undefined
      : new (await import('../approvals/gate.ts')).StoreApprovalGate({
          store,
          ttlSeconds: config.approvals.ttlSeconds,
          // Why Cedar too, on top of the gate's rules (approver role, never the requester): a bundle
          // that narrows who approves what (policies/approvers.cedar) must hold.
          authorizeSigner: (await import('../approvals/cedar-signer.ts')).cedarSignerCheck(engine, settings, approvalSandbox),
        });
  const recorded = approvals === undefined || options.audit === undefined ? approvals : (await import('../audit/approval-record.ts')).recordedApprovalGate(approvals, options.audit);
  // Why the store's list itself: a revocation made by any process sharing the store holds at once.
  const revocations = store === undefined ? undefined : { revoked: (agentId: string) => store.revocations.get(agentId) };
  const contracts = store === undefined ? undefined : [(await import('../contracts/step.ts')).contractStep(store.contracts)];
  // The image step loads only with a policy that can refuse something (and a store to read images from).
  const { stateDir, imagePolicy } = config;
  const images = stateDir !== undefined && imagePolicy !== undefined && imagePolicyActive(imagePolicy) ? (await import('./image-step.ts')).imagePolicyStep({ stateDir, imagePolicy }) : undefined;
  const admission = new Admission({ engine, settings, approvals: recorded, audit: options.audit, revocations, contracts, images });
  return { engine, authenticator, admission, approvals: recorded ?? UNAVAILABLE_APPROVALS };
}
