/**
 * `airlock run` through the one admission path: the caller is the unix user running the command
 * (root is the operator; others are who `auth.localUsers` says), and the plan is authorized by
 * Cedar and, where policy asks, by a signed approval given with `--approval ID`, exactly as the
 * API would decide the same request.
 */
import type { AirlockConfig } from '../config/config.ts';
import { createAccess, type Access } from '../admission/access.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import { ApprovalRefusal } from '../approvals/refusal.ts';
import type { SandboxSpec } from '../policy/request.ts';
import type { Image } from '../images/image.ts';
import { PolicyEngine } from '../policy/engine.ts';
import { policyDirOf } from '../policy/bundle-files.ts';
import { stampDirOf } from '../policy/bundle-stamp.ts';
import type { RunPlan } from './run-options.ts';
import type { RunRecording } from './run-record.ts';
import { terminalSafe } from './terminal-text.ts';

/** Exit code of a run that waits for a signed approval (nothing ran). */
export const APPROVAL_PENDING_EXIT = 3;

/**
 * Admitted: the Cedar bundle's hash (part of the policy hash), the owner the run is recorded under
 * and the spec policy saw. Otherwise the exit code to return.
 */
export type RunAdmission = { admitted: true; bundleHash: string; owner: string; spec: SandboxSpec } | { admitted: false; exitCode: number };

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
 * Authenticates the local user and admits the plan against the controller's store (revocations,
 * contracts, approvals) with the decision recorded in its audit log before this returns; prints
 * why when it is not admitted.
 */
export async function admitRun(plan: RunPlan, config: AirlockConfig, approvalId: string | undefined, recording: Promise<RunRecording>, resolved: Promise<Image>): Promise<RunAdmission> {
  // A bundle checked before is not checked again, and a decision made before is not evaluated
  // again (see policy/bundle-stamp.ts): most runs then never load Cedar.
  const [engine, { store, audit }, image] = await Promise.all([
    PolicyEngine.load(policyDirOf(config.policy), { stampDir: stampDirOf(config), rememberDecisions: true }),
    recording,
    // An image that can't be resolved is the run's to report, once admitted (run-prepare.ts).
    resolved.catch(() => undefined),
  ]);
  return decide(await createAccess({ config, store, engine, audit }), plan, config, approvalId, image);
}

async function decide(access: Access, plan: RunPlan, config: AirlockConfig, approvalId: string | undefined, image: Image | undefined): Promise<RunAdmission> {
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
      image,
    });
    if (outcome.admitted) return { admitted: true, bundleHash: access.engine.hash, owner: caller.agentId, spec };
    const id = terminalSafe(outcome.approval.approval_id);
    process.stderr.write(
      `airlock: this run needs a signed approval (${terminalSafe(outcome.actionDigest)}): approval ${id}, expires ${terminalSafe(outcome.approval.expires_at)}\n` +
        `  an approver decides with: airlock approvals approve ${id} --key APPROVER.key\n` +
        `  then run the same command again with --approval ${id}\n`,
    );
    return { admitted: false, exitCode: APPROVAL_PENDING_EXIT };
  } catch (err) {
    if (!(err instanceof AdmissionRefusal || err instanceof ApprovalRefusal)) throw err;
    process.stderr.write(`airlock: refused (${err.code}): ${terminalSafe(err.message, { keepLayout: true })}\n`);
    return { admitted: false, exitCode: 1 };
  }
}
