/**
 * Security violations derived from how a sandbox ended. Resource abuse is reported as a RESOURCE
 * violation; a process killed by SIGSYS was killed by the seccomp filter (foreign ABI or x32).
 */
import { randomUUID } from 'node:crypto';
import { exitCodeOfSignal } from '../host/exit-status.ts';
import type { Limits } from '../isolation/driver.ts';
import type { SecurityViolation, Severity, TerminationReason } from './result.ts';
import type { DriftFinding } from '../network/drift-watch.ts';

const SIGSYS_EXIT = exitCodeOfSignal('SIGSYS');

/** The escape-attempt pattern a resource stop is counted under (hardened_sandbox_escape_attempts_total). */
const ESCAPE_PATTERN: Partial<Record<TerminationReason, string>> = { pids_limit: 'fork_bomb', memory_limit: 'memory_exhaustion' };

const RESOURCE: Partial<Record<TerminationReason, { type: string; severity: Severity; limit: (l: Limits) => unknown; fix: string }>> = {
  memory_limit: { type: 'memory_exhaustion', severity: 'MEDIUM', limit: (l) => `${l.memoryMb} MiB`, fix: 'Raise memory_limit_mb if the workload is legitimate.' },
  pids_limit: { type: 'process_exhaustion', severity: 'HIGH', limit: (l) => l.pids, fix: 'Fork bombs are stopped at the pids limit; raise it only for known workloads.' },
  timeout: { type: 'timeout', severity: 'LOW', limit: (l) => `${l.timeoutSeconds} s`, fix: 'Raise timeout_seconds or make the workload shorter.' },
  output_limit: { type: 'output_flood', severity: 'MEDIUM', limit: (l) => `${l.outputBytes} bytes`, fix: 'Write large results to a file instead of stdout.' },
  scratch_limit: { type: 'disk_exhaustion', severity: 'LOW', limit: (l) => `${l.scratchMb} MiB`, fix: 'Raise the scratch size.' },
  open_files_limit: { type: 'fd_exhaustion', severity: 'MEDIUM', limit: (l) => l.openFiles, fix: 'Close descriptors; the limit is RLIMIT_NOFILE.' },
};

/** The violations a finished execution carries (possibly none). */
export function violationsFor(reason: TerminationReason, exitCode: number | null, limits: Limits): SecurityViolation[] {
  const out: SecurityViolation[] = [];
  const resource = RESOURCE[reason];
  if (resource !== undefined) {
    out.push(violation(resource.type, resource.severity, 'RESOURCE', `sandbox stopped at its ${reason.replace('_', ' ')}`, {
      // Why a pattern: fork bombs and memory exhaustion are escape-pattern counters too.
      ...(ESCAPE_PATTERN[reason] === undefined ? {} : { pattern: ESCAPE_PATTERN[reason] }),
      termination_reason: reason,
      limit: resource.limit(limits),
    }, resource.fix));
  }
  if (exitCode === SIGSYS_EXIT) {
    out.push(violation('forbidden_syscall', 'HIGH', 'SECCOMP', 'a sandbox process was killed by the seccomp filter (foreign ABI or forbidden call)', {
      signal: 'SIGSYS',
    }, 'Review the code: native 64-bit syscalls only; 32-bit and x32 ABIs are killed.'));
  }
  return out;
}

/** A security violation, blocked, with its layer, indicators and remediation. */
export function violation(
  type: string,
  severity: Severity,
  layer: SecurityViolation['detection_layer'],
  description: string,
  indicators: Record<string, unknown>,
  remediation: string,
): SecurityViolation {
  return {
    violation_id: randomUUID(),
    timestamp: new Date().toISOString(),
    violation_type: type,
    severity,
    description,
    detection_layer: layer,
    blocked: true,
    indicators,
    remediation,
  };
}

/**
 * The sandbox's network state (rules, links, routes) changed while it ran: whatever changed it,
 * the isolation it started with no longer holds, so it was killed. Or the watch could not read
 * that state even after retries: it was killed because nobody could vouch for it, which is said
 * as such (not as a change nobody saw).
 */
export function networkDriftViolation(finding: DriftFinding, mode: string): SecurityViolation {
  const { verified, changes } = finding;
  if (!verified) {
    return violation(
      'network_drift',
      'HIGH',
      'NETWORK',
      `drift watch could not verify the sandbox's network state; sandbox killed: ${changes.join('; ')}`,
      { pattern: 'network_drift', changes, verified: false, network_policy: mode },
      'The host was too loaded (or nftables/iproute2 failing) to read the network state; see the reason, then raise network.driftReadTimeoutMs or network.driftReadAttempts if the host is merely slow.',
    );
  }
  return violation(
    'network_drift',
    'CRITICAL',
    'NETWORK',
    `network state of the sandbox changed while it ran; sandbox killed: ${changes.join('; ')}`,
    { pattern: 'network_drift', changes, verified: true, network_policy: mode },
    'Find who changed the host firewall or the sandbox namespace; airlock rebuilds the rules for every new sandbox.',
  );
}

/**
 * An image in use failed its scheduled re-verification (its files no longer hash to its
 * manifest): the image is out of service, so no new sandbox starts from it.
 */
export function imageIntegrityViolation(failure: { name: string; digest: string; differences: readonly string[] }): SecurityViolation {
  return violation(
    'image_tampered',
    'CRITICAL',
    'FILESYSTEM',
    `image ${failure.name} (${failure.digest}) failed re-verification and is out of service: ${failure.differences.slice(0, 5).join('; ')}`,
    { image: failure.name, digest: failure.digest, differences: failure.differences.slice(0, 20) },
    'Find who changed the image store (it is root-only); rebuild the image with airlock image build and check it with airlock image verify.',
  );
}

/**
 * A request about a running sandbox that policy or its owner's contract refused: the sandbox's own
 * agent asking beyond what it may (MEDIUM), or another principal reaching for a sandbox that is not
 * its own (HIGH: a tenancy probe).
 */
export function policyDenialViolation(sandboxId: string, refusal: { code: string; step: string; message: string; policyIds: readonly string[] }, caller: { name: string; agentId: string }, owner: string, action: string): SecurityViolation {
  const own = caller.agentId === owner;
  return violation(
    own ? 'policy_denied' : 'cross_tenant_attempt',
    own ? 'MEDIUM' : 'HIGH',
    'POLICY',
    `${action} on sandbox ${sandboxId} by ${caller.name} refused (${refusal.code}): ${refusal.message}`,
    { sandbox_id: sandboxId, action, caller: caller.name, caller_agent_id: caller.agentId, step: refusal.step, code: refusal.code, policy_ids: [...refusal.policyIds] },
    own ? 'Grant the action in policy (or the contract) if the agent needs it; otherwise review what asked for it.' : 'Another principal asked for this sandbox; check that principal\'s key and intent.',
  );
}
