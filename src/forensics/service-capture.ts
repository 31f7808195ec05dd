/**
 * Forensic capture of a service's sandbox: the subject built from what the service knows (its
 * info, spec, network decisions, host-side access and image), captured under the configured
 * directory; and the trigger that captures on a violation at or above the configured severity.
 */
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { AuditLog } from '../audit/log.ts';
import type { AirlockConfig } from '../config/config.ts';
import { FORENSIC_SEVERITIES } from '../config/forensics-config.ts';
import { resolveImage } from '../images/store.ts';
import { ServiceError } from '../sandbox/errors.ts';
import type { SecurityViolation } from '../sandbox/result.ts';
import type { SandboxServiceApi } from '../sandbox/service-types.ts';
import { captureForensics, type CaptureResult } from './capture.ts';

/** What a capture of a service's sandbox needs. */
export interface ServiceCaptureDeps {
  readonly service: Pick<SandboxServiceApi, 'get' | 'ownership' | 'network' | 'kill' | 'health' | 'forensicAccess'>;
  readonly config: Pick<AirlockConfig, 'forensics' | 'stateDir'>;
  readonly controllerKey: KeyObject;
  readonly audit: AuditLog | undefined;
}

/** The directory bundles are written to: `forensics.dir`, else `forensics/` in the state directory. */
export function forensicsDir(config: Pick<AirlockConfig, 'forensics' | 'stateDir'>): string {
  return config.forensics.dir ?? join(config.stateDir, 'forensics');
}

/** Captures running sandbox `id` (unknown: the service's sandbox_not_found; ended: sandbox_not_running). */
export async function captureServiceSandbox(deps: ServiceCaptureDeps, id: string, reason: string): Promise<CaptureResult> {
  const { service, config } = deps;
  const info = service.get(id);
  // Why refuse an ended sandbox: its processes, scratch and cgroup are gone; a bundle would show nothing.
  if (info.state !== 'running') throw new ServiceError('sandbox_not_running', `sandbox ${id} has ended: there is nothing left to capture`);
  const ownership = service.ownership(id);
  const network = service.network(id);
  const image = await resolveImage(config, info.image_digest).catch(() => undefined);
  const policyHash = (await service.health()).policy_hash;
  return captureForensics(
    {
      info, spec: ownership.spec, image, network, policyHash,
      access: service.forensicAccess?.(id),
      kill: async () => void (await service.kill(id)),
    },
    { dir: forensicsDir(config), config: config.forensics, controllerKey: deps.controllerKey, audit: deps.audit, reason },
  );
}

/** Rank of a severity (higher is more severe). */
function rank(severity: string): number {
  return FORENSIC_SEVERITIES.indexOf(severity as (typeof FORENSIC_SEVERITIES)[number]);
}

/**
 * A `violationRecorded` observer hook: a violation at or above `forensics.triggerSeverity` that
 * names its sandbox (`indicators.sandbox_id`) captures that sandbox once. `deps` is resolved late
 * (the service is built with its observers).
 */
export function forensicTrigger(
  deps: () => ServiceCaptureDeps | undefined,
  onCaptured: (result: CaptureResult) => void,
  onError: (err: unknown, sandboxId: string) => void,
): { violationRecorded(violation: SecurityViolation): void } {
  const capturing = new Set<string>();
  return {
    violationRecorded(violation) {
      const d = deps();
      const threshold = d?.config.forensics.triggerSeverity ?? null;
      const sandboxId = violation.indicators['sandbox_id'];
      if (d === undefined || threshold === null || rank(violation.severity) < rank(threshold) || typeof sandboxId !== 'string') return;
      // Why once per sandbox: a burst of violations would otherwise freeze and read it over and over.
      if (capturing.has(sandboxId)) return;
      capturing.add(sandboxId);
      captureServiceSandbox(d, sandboxId, `violation ${violation.violation_id} (${violation.violation_type}, ${violation.severity})`)
        .then(onCaptured, (err: unknown) => onError(err, sandboxId))
        .finally(() => capturing.delete(sandboxId));
    },
  };
}
