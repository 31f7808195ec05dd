/**
 * The routes' side of admission: what each route asks for (an action, the sandbox it is on, the
 * resolved spec, the parameters an approval covers), sent through the one admission path. A
 * request that policy sends to a human is answered 202 with its pending approval; a refusal
 * leaves as its code's status (src/api/error-codes.ts).
 */
import type { FastifyRequest } from 'fastify';
import type { Admitted, TargetSandbox } from '../admission/admission.ts';
import type { Caller } from '../admission/caller.ts';
import type { NetworkRequest } from '../network/policy.ts';
import type { GrantedMount } from '../isolation/driver.ts';
import type { Image } from '../images/image.ts';
import type { PolicyAction, SandboxSpec } from '../policy/request.ts';
import { resolveLimits, type RequestedLimits } from '../sandbox/limits.ts';
import './caller-decoration.ts';
import type { RouteContext } from './context.ts';
import { ApiError } from './errors.ts';
import { ApprovalPending } from './approval-pending.ts';
import { AdmissionRefusal } from '../admission/refusal.ts';
import { policyDenialViolation } from '../sandbox/violations.ts';

/** Refusals that are a violation on the sandbox they are about: policy's and the contract's (not authentication, revocation or a store fault). */
const REFUSALS_ON_SANDBOX: ReadonlySet<string> = new Set(['forbidden', 'contract_violation']);

/** The resource id policy sees for a sandbox not created yet. */
export const NEW_SANDBOX = 'new';

/** Header a retried request names its approval in. */
export const APPROVAL_HEADER = 'airlock-approval';

/** The caller of an authenticated route (the hook guarantees one; its absence is a server fault). */
export function callerOf(request: FastifyRequest): Caller {
  if (request.caller === undefined) throw new Error(`route ${request.routeOptions.url ?? request.url} ran without an authenticated caller`);
  return request.caller;
}

/** The spec a new sandbox will have: every default filled, so policy sees what will run. */
export function newSandboxSpec(
  ctx: RouteContext,
  input: { runtime: string; image?: string | undefined; network: NetworkRequest; mounts: readonly GrantedMount[]; limits: RequestedLimits; secrets?: readonly string[] | undefined },
): SandboxSpec {
  return {
    runtime: input.runtime,
    image: input.image ?? ctx.admission.settings.defaultImage,
    network: { mode: input.network.mode, allowedHosts: input.network.allowedHosts },
    mounts: input.mounts,
    limits: resolveLimits(input.limits, ctx.policy.defaults, ctx.policy.maxima),
    // Names only: a value is never part of a decision, a digest or an approval summary.
    ...(input.secrets === undefined || input.secrets.length === 0 ? {} : { secrets: [...input.secrets] }),
  };
}

/** The sandbox `id` as policy sees it (404/409 from the service when there is none). */
export function targetOf(ctx: RouteContext, id: string): TargetSandbox {
  return { id, ...ctx.service.ownership(id) };
}

/**
 * The tenancy id a new sandbox is owned by: the one the request names (`agent_id`), else the
 * caller's. Whether the caller may create for that owner is policy's to decide, like every other
 * tenancy question (the default bundle: agents only for themselves, operators for anyone).
 */
export function ownerFor(caller: Caller, requested: string | undefined): string {
  return requested ?? caller.agentId;
}

/** Sends the request through admission; throws a refusal, or ApprovalPending for a 202. */
export async function admit(
  ctx: RouteContext,
  request: FastifyRequest,
  input: { action: PolicyAction; sandbox?: TargetSandbox | undefined; spec?: SandboxSpec | undefined; parameters: unknown; image?: Image | undefined },
): Promise<Admitted> {
  const header = request.headers[APPROVAL_HEADER];
  if (Array.isArray(header)) throw new ApiError('invalid_request', 'Airlock-Approval: give it once');
  const caller = callerOf(request);
  const outcome = await ctx.admission
    .admit({ caller, action: input.action, sandbox: input.sandbox, request: input.spec, parameters: input.parameters, approvalId: header, image: input.image })
    .catch((err: unknown) => {
      const target = input.sandbox;
      // Why on the sandbox: a refused request about a running sandbox is part of what that sandbox's agent (or a neighbour) tried.
      if (err instanceof AdmissionRefusal && REFUSALS_ON_SANDBOX.has(err.code) && target !== undefined && target.id !== NEW_SANDBOX) {
        ctx.service.recordViolation(target.id, policyDenialViolation(target.id, err, caller, target.owner, input.action));
      }
      throw err;
    });
  if (!outcome.admitted) throw new ApprovalPending(outcome.approval, outcome.actionDigest);
  return outcome;
}
