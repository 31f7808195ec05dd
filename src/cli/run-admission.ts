/**
 * `airlock run` through the one admission path: the caller is the unix user running the command
 * (root is the operator; others are who `auth.localUsers` says), and the plan is authorized by
 * Cedar and, where policy asks, by a signed approval given with `--approval ID`, exactly as the
 * API would decide the same request.
 */
import type { AirlockConfig } from '../config/config.ts';
import { createAccess, UNAVAILABLE_APPROVALS, type Access } from '../admission/access.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import { ApprovalRefusal } from '../approvals/refusal.ts';
import type { SandboxSpec } from '../policy/request.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { policyDirOf } from '../policy/bundle-files.ts';
import { stampDirOf } from '../policy/bundle-stamp.ts';
import type { RunPlan } from './run-options.ts';
import { terminalSafe } from './terminal-text.ts';

/** Exit code of a run that waits for a signed approval (nothing ran). */
export const APPROVAL_PENDING_EXIT = 3;

/** Admitted: the Cedar bundle's hash, part of the policy hash. Otherwise the exit code to return. */
export type RunAdmission = { admitted: true; bundleHash: string } | { admitted: false; exitCode: number };

/** The resolved plan as policy sees it (the API builds the same spec for a one-shot). */
function specOf(plan: RunPlan, config: AirlockConfig): SandboxSpec {
  return {
    runtime: plan.runtime,
    image: plan.image ?? config.defaultImage,
    network: { mode: plan.network.mode, allowedHosts: plan.network.allowedHosts },
    mounts: plan.mounts,
    limits: plan.limits,
    ...(plan.secrets === undefined ? {} : { secrets: plan.secrets }),
  };
}

/**
 * Authenticates the local user and admits the plan; prints why when it is not admitted. The store
 * (approvals) is opened only when an approval is involved: `--approval` was given, or policy sends
 * the run to an approver. A run policy allows outright never touches it.
 */
export async function admitRun(plan: RunPlan, config: AirlockConfig, approvalId: string | undefined): Promise<RunAdmission> {
  // A bundle checked before is not checked again, and a decision made before is not evaluated
  // again (see policy/bundle-stamp.ts): most runs then never load Cedar.
  const engine = await PolicyEngine.load(policyDirOf(config.policy), { stampDir: stampDirOf(config), rememberDecisions: true });
  if (approvalId === undefined) {
    // Without a store, a run that needs an approval is refused as approval_unavailable before
    // anything is recorded: only then is it decided again, with the store's approval gate.
    const outcome = await decide(await createAccess({ config, engine }), plan, config, undefined);
    if (outcome !== NEEDS_APPROVAL_GATE) return outcome;
  }
  const { openStore } = await import('../store/index.ts');
  const store = await openStore(config);
  try {
    const outcome = await decide(await createAccess({ config, store, engine }), plan, config, approvalId);
    if (outcome === NEEDS_APPROVAL_GATE) throw new Error('the approval gate is unavailable although the store is open');
    return outcome;
  } finally {
    await store.close();
  }
}

/** What {@link decide} answers when the run needs an approval and the access it was given has no gate. */
const NEEDS_APPROVAL_GATE = Symbol('needs approval gate');

async function decide(access: Access, plan: RunPlan, config: AirlockConfig, approvalId: string | undefined): Promise<RunAdmission | typeof NEEDS_APPROVAL_GATE> {
  const caller = await access.authenticator.authenticate({ kind: 'local-process', uid: process.getuid?.() ?? -1 });
  const spec = specOf(plan, config);
  // What an approval covers: everything resolved (piped stdin is not known in advance and is not covered).
  const { json: _json, ...parameters } = plan;
  try {
    const outcome = await access.admission.admit({
      caller,
      action: 'execute',
      sandbox: { id: 'new', owner: caller.agentId, spec },
      request: spec,
      parameters,
      approvalId,
    });
    if (outcome.admitted) return { admitted: true, bundleHash: access.engine.hash };
    const id = terminalSafe(outcome.approval.approval_id);
    process.stderr.write(
      `airlock: this run needs a signed approval (${terminalSafe(outcome.actionDigest)}): approval ${id}, expires ${terminalSafe(outcome.approval.expires_at)}\n` +
        `  an approver decides with: airlock approvals approve ${id} --key APPROVER.key\n` +
        `  then run the same command again with --approval ${id}\n`,
    );
    return { admitted: false, exitCode: APPROVAL_PENDING_EXIT };
  } catch (err) {
    if (!(err instanceof AdmissionRefusal || err instanceof ApprovalRefusal)) throw err;
    if (err instanceof AdmissionRefusal && err.code === 'approval_unavailable' && access.approvals === UNAVAILABLE_APPROVALS) return NEEDS_APPROVAL_GATE;
    process.stderr.write(`airlock: refused (${err.code}): ${terminalSafe(err.message, { keepLayout: true })}\n`);
    return { admitted: false, exitCode: 1 };
  }
}
