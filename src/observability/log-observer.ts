/**
 * Service events that belong in the log (and, later, the audit log): every egress decision, every
 * allowlist change and every violation recorded outside a result. Combined with the metrics observer by `combineObservers`.
 */
import type { Logger } from 'pino';
import type { ServiceObserver } from '../sandbox/service-types.ts';

/** Logs egress decisions (refusals at warn) and violations. */
export function logObserver(logger: Logger): ServiceObserver {
  return {
    egressDecision(decision) {
      if (decision.allowed) logger.info({ egress: decision }, 'egress allowed');
      else logger.warn({ egress: decision }, 'egress refused');
    },
    allowlistChanged(sandboxId, allowedHosts) {
      logger.warn({ sandbox_id: sandboxId, allowed_hosts: allowedHosts }, 'allowlist changed');
    },
    violationRecorded(violation) {
      logger.warn({ violation }, 'security violation');
    },
    supervisionFallback(sandboxId, reason) {
      logger.warn({ sandbox_id: sandboxId, reason }, 'limits sampled: no kernel event for them');
    },
  };
}

const EVENTS = [
  'executionFinished', 'executionStarted', 'sandboxCreated', 'sandboxEnded', 'capacityRefused', 'poolChanged', 'poolCheckout', 'egressDecision',
  'allowlistChanged', 'violationRecorded', 'supervisionFallback',
] as const satisfies readonly (keyof ServiceObserver)[];

/** One observer that forwards every event to each of `observers` that handles it. */
export function combineObservers(...observers: ServiceObserver[]): ServiceObserver {
  const combined: Record<string, (...args: unknown[]) => void> = {};
  for (const event of EVENTS) {
    const targets = observers.filter((o) => typeof o[event] === 'function');
    if (targets.length === 0) continue;
    combined[event] = (...args) => {
      for (const target of targets) (target[event] as (...a: unknown[]) => void).apply(target, args);
    };
  }
  return combined as ServiceObserver;
}
