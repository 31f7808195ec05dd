/**
 * The one admission path every front end (HTTP API, `airlock run`, the SDK's server) sends a
 * request through once it is parsed and its caller authenticated (./authenticate.ts):
 * revocation → authorize (Cedar) → behavior contracts → approval gate. Limits and the request's
 * shape were resolved and checked before, by ./resolve.ts, so what is authorized is exactly what
 * will run. The answer is an admitted request, a pending approval, or an AdmissionRefusal that
 * names the step and the reason.
 */
import type { Image } from '../images/image.ts';
import { canonicalDigest } from '../signing/canonical-json.ts';
import type { PolicyDecision, PolicyEngine } from '../policy/engine.ts';
import { SECRET_ACTION, type PolicyAction, type PolicySettings, type SandboxSpec } from '../policy/request.ts';
import type { Caller } from './caller.ts';
import { AdmissionRefusal } from './refusal.ts';
import { admissionEvent, type AdmissionOutcome } from '../audit/admission-record.ts';
import type { AuditEvent } from '../audit/record.ts';

/** The sandbox an action is on: its id, its owner (a tenancy id) and what it was created with. */
export interface TargetSandbox {
  id: string;
  owner: string;
  spec: SandboxSpec;
}

/** One request to admit. */
export interface AdmissionInput {
  caller: Caller;
  action: PolicyAction;
  /** The sandbox acted on; for create and execute, the one being asked for (owned by the caller). */
  sandbox?: TargetSandbox | undefined;
  /** The spec once the action is done (network.change: with the new network). */
  request?: SandboxSpec | undefined;
  /** Every resolved parameter of the action: what an approval's digest covers. */
  parameters: unknown;
  /** An approval the caller attaches to a retried request. */
  approvalId?: string | undefined;
  /**
   * The image a new sandbox will run, as its front end resolved it once (create, execute): the
   * image step judges that digest instead of resolving the name again. Absent: the name is resolved.
   */
  image?: Image | undefined;
}

/** A request admitted: run it exactly as resolved. */
export interface Admitted {
  readonly admitted: true;
  readonly caller: Caller;
  readonly decision: PolicyDecision;
  /** `sha256:<hex>` of the RFC 8785 form of principal, action, sandbox and parameters. */
  readonly actionDigest: string;
  /** Whether it runs on a redeemed approval. */
  readonly approved: boolean;
}

/** What admission needs of a pending approval (the gate's view carries more, shown to the caller as is). */
export interface OpenedApproval {
  readonly approval_id: string;
  readonly expires_at: string;
}

/** A request that waits for a human: answer 202 with this. */
export interface AwaitingApproval {
  readonly admitted: false;
  readonly approval: OpenedApproval;
  readonly actionDigest: string;
}

/** The approval gate as admission uses it (src/approvals/ implements it). */
export interface ApprovalStep {
  open(input: { requester: Caller; action: PolicyAction; sandboxId?: string | undefined; actionDigest: string; summary: unknown; policyIds: readonly string[]; reasons: readonly string[] }): Promise<OpenedApproval>;
  /** Checks and consumes the approval; throws a refusal with its own code when it does not fit. */
  redeem(input: { approvalId: string; actionDigest: string; requester: Caller }): Promise<void>;
}

/** A behavior contract or revocation check: throws an AdmissionRefusal (step `contract`) to refuse. */
export type ContractCheck = (input: AdmissionInput) => void | Promise<void>;

/** The image policy check of the image a new sandbox would run: throws an AdmissionRefusal (step `image`) to refuse. */
export type ImageCheck = (image: string, resolved: Image | undefined) => Promise<void>;

/** What admission decides with. */
export interface AdmissionOptions {
  engine: PolicyEngine;
  settings: PolicySettings;
  approvals?: ApprovalStep | undefined;
  contracts?: readonly ContractCheck[] | undefined;
  /** The image policy (./image-step.ts); without it, every image is admitted. */
  images?: ImageCheck | undefined;
  /** The revocation list (src/revocation's Revoker); without it, no agent is revoked. */
  revocations?: { revoked(agentId: string): Promise<{ reason: string; revokedAtMs: number } | undefined> } | undefined;
  /** Where every decision is recorded (src/audit's AuditLog); without it, nothing is recorded. */
  audit?: { append(event: AuditEvent): Promise<unknown> } | undefined;
}

/** Admits requests; one instance per controller. */
export class Admission {
  readonly #options: AdmissionOptions;

  constructor(options: AdmissionOptions) {
    this.#options = options;
  }

  /** The active Cedar bundle's hash (part of the policy hash). */
  get bundleHash(): string {
    return this.#options.engine.hash;
  }

  /** The host settings decisions depend on. */
  get settings(): PolicySettings {
    return this.#options.settings;
  }

  /**
   * Runs the steps after authentication; throws an AdmissionRefusal (or the gate's refusal). Every
   * outcome is recorded in the audit log; an allowed request is answered only once its record is
   * durable, and is refused (`audit_unavailable`) when it cannot be recorded.
   */
  async admit(input: AdmissionInput): Promise<Admitted | AwaitingApproval> {
    let outcome: Admitted | AwaitingApproval;
    try {
      outcome = await this.#admit(input);
    } catch (err) {
      const refusal = err as { step?: string; code?: unknown; message?: string; policyIds?: readonly string[] };
      if (typeof refusal.code === 'string') {
        // A refusal is returned whether or not it could be recorded: refusing needs no record to be safe.
        await this.#record(input, { outcome: 'refused', step: refusal.step ?? 'approval', code: refusal.code, reason: refusal.message ?? '', policyIds: refusal.policyIds ?? [] }).catch(() => undefined);
      }
      throw err;
    }
    try {
      await this.#record(
        input,
        outcome.admitted
          ? { outcome: 'allowed', actionDigest: outcome.actionDigest, approved: outcome.approved, policyIds: outcome.decision.policyIds }
          : { outcome: 'approval_required', actionDigest: outcome.actionDigest, approvalId: outcome.approval.approval_id, policyIds: [] },
      );
    } catch (err) {
      // Why: fail closed. What can't be recorded doesn't run; the message names the audit store's fault.
      throw new AdmissionRefusal('audit', 'audit_unavailable', (err as Error).message);
    }
    return outcome;
  }

  async #record(input: AdmissionInput, result: AdmissionOutcome): Promise<void> {
    const audit = this.#options.audit;
    if (audit === undefined) return;
    const facts = { caller: input.caller, action: input.action, sandbox: input.sandbox, request: input.request, parameters: input.parameters, policyBundleHash: this.#options.engine.hash };
    await audit.append(admissionEvent(facts, result));
  }

  async #admit(input: AdmissionInput): Promise<Admitted | AwaitingApproval> {
    const { caller, action } = input;
    await this.#refuseRevoked(input);
    const decision = this.#decide(input, false);
    if (decision.decision === 'deny') throw denial(decision);
    for (const check of this.#options.contracts ?? []) await check(input);
    const image = action === 'create' || action === 'execute' ? (input.request ?? input.sandbox?.spec)?.image : undefined;
    if (image !== undefined) await this.#options.images?.(image, input.image);
    // Why the resolved spec (and the owner) too: a default that changes between approval and retry
    // (a limit, the image) changes what would run, so it must change the digest; and the approval's
    // own Cedar check (who may approve) decides on that sandbox.
    // Why the image's digest as the request resolved it: the spec names the image only, and a tag
    // re-pointed between approval and retry would otherwise run another image under the approval.
    const imageDigest = image === undefined ? {} : { image_digest: input.image?.digest ?? null };
    const resolved = { owner: input.sandbox?.owner ?? null, spec: input.request ?? input.sandbox?.spec ?? null, parameters: input.parameters, ...imageDigest };
    const actionDigest = canonicalDigest({ principal: caller.name, action, sandbox_id: input.sandbox?.id ?? null, ...resolved });
    if (decision.decision === 'allow' && input.approvalId === undefined) return { admitted: true, caller, decision, actionDigest, approved: false };
    const gate = this.#options.approvals;
    if (gate === undefined) throw new AdmissionRefusal('approval', 'approval_unavailable', `${reasonText(decision)}; this controller has no approval gate`, decision.policyIds);
    if (input.approvalId === undefined) {
      const approval = await gate.open({ requester: caller, action, sandboxId: input.sandbox?.id, actionDigest, summary: resolved, policyIds: decision.policyIds, reasons: decision.reasons });
      return { admitted: false, approval, actionDigest };
    }
    // Why redeem before the final decision: a consumed approval can't be replayed, even if the
    // request it came with is then denied.
    await gate.redeem({ approvalId: input.approvalId, actionDigest, requester: caller });
    const approved = this.#decide(input, true);
    if (approved.decision !== 'allow') throw denial(approved);
    return { admitted: true, caller, decision: approved, actionDigest, approved: true };
  }

  /**
   * The revocation step: a revoked caller is refused whatever it asks, and so is a new sandbox for a
   * revoked owner (an operator creating one on a revoked agent's behalf).
   */
  async #refuseRevoked(input: AdmissionInput): Promise<void> {
    const list = this.#options.revocations;
    if (list === undefined) return;
    const agents = new Set([input.caller.agentId]);
    if (input.action === 'create' || input.action === 'execute') agents.add(input.sandbox?.owner ?? input.caller.agentId);
    for (const agentId of agents) {
      const revoked = await list.revoked(agentId);
      // Why before Cedar: revocation overrides every grant, so no policy can let a revoked agent back in.
      if (revoked !== undefined) throw new AdmissionRefusal('revocation', 'agent_revoked', `agent ${agentId} is revoked since ${new Date(revoked.revokedAtMs).toISOString()}: ${revoked.reason}`);
    }
  }

  /** Whether policy lets `caller` do `action` (on `sandbox`; none for `admin`) outright (no approval): for filtering lists. */
  permits(caller: Caller, action: PolicyAction, sandbox?: TargetSandbox): boolean {
    return this.#decide({ caller, action, sandbox, parameters: null }, false).decision === 'allow';
  }

  /**
   * The action's decision, then, for a create or execute that names secrets, one decision per
   * secret (action `secret.use`): any denial denies the whole request (naming the secret), and a
   * secret that needs approval makes the request need one.
   */
  #decide(input: AdmissionInput, approved: boolean): PolicyDecision {
    const { caller } = input;
    const base = {
      principal: { role: caller.role, id: caller.agentId, groups: caller.groups },
      sandbox: input.sandbox,
      request: input.request,
      approved,
      settings: this.#options.settings,
    };
    let decision = this.#options.engine.evaluate({ ...base, action: input.action });
    if (decision.decision === 'deny') return decision;
    for (const secret of secretsAskedFor(input)) {
      const granted = this.#options.engine.evaluate({ ...base, action: SECRET_ACTION, secret });
      // Why each secret on its own: a refusal must say which secret, and a grant of one is no grant of another.
      if (granted.decision === 'deny') return { ...granted, reasons: granted.reasons.map((r) => `secret ${secret}: ${r}`) };
      if (granted.decision === 'approval' && decision.decision === 'allow') decision = { ...granted, reasons: granted.reasons.map((r) => `secret ${secret}: ${r}`) };
    }
    return decision;
  }
}

/** The secrets a request asks to be given: only creating a sandbox (create, execute) gives any. */
function secretsAskedFor(input: AdmissionInput): readonly string[] {
  if (input.action !== 'create' && input.action !== 'execute') return [];
  return (input.request ?? input.sandbox?.spec)?.secrets ?? [];
}

function reasonText(decision: PolicyDecision): string {
  const ids = decision.policyIds.length > 0 ? ` (${decision.policyIds.join(', ')})` : '';
  return `${decision.reasons.join('; ')}${ids}`;
}

function denial(decision: PolicyDecision): AdmissionRefusal {
  return new AdmissionRefusal('authorize', 'forbidden', `denied by policy: ${reasonText(decision)}`, decision.policyIds);
}
