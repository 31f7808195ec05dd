/**
 * A brokered secret's placeholder sent where its value may not go is a POLICY violation on the
 * sandbox that sent it: the proxy refused the request (403 `brokered_secret_unbound`), and the
 * attempt is on record.
 */
import { randomUUID } from 'node:crypto';
import type { EgressDecision } from '../network/proxy/index.ts';
import type { SecurityViolation } from './result.ts';

/** The violation an egress decision stands for, or undefined when it is not a brokered-secret refusal. */
export function brokeredSecretViolation(decision: EgressDecision): SecurityViolation | undefined {
  if (decision.allowed || decision.reason !== 'brokered_secret_unbound') return undefined;
  const names = decision.brokered ?? [];
  return {
    violation_id: randomUUID(),
    timestamp: new Date().toISOString(),
    violation_type: 'brokered_secret_misuse',
    // Why HIGH: code sending a credential's stand-in to a host it is not bound to is trying to exfiltrate or probe the credential.
    severity: 'HIGH',
    description: `the placeholder of brokered secret ${names.join(', ')} was sent to ${decision.host}:${decision.port}, which it is not bound to (or in a URL); refused`,
    detection_layer: 'POLICY',
    blocked: true,
    indicators: { sandbox_id: decision.sandboxId, host: decision.host, port: decision.port, secrets: names, kind: decision.kind },
    remediation: 'Bind the secret to this host (secrets.bind) if it is a legitimate destination; otherwise review the code that sent it.',
  };
}
