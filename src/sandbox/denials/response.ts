/**
 * What the controller does about a violation, by severity: record it only, kill the sandbox, or
 * kill it and revoke the agent that ran it. One place for the rule.
 */
import { DEFAULT_VIOLATIONS_CONFIG } from '../../config/violations-config.ts';
import type { Severity } from '../result.ts';

/** The response to a violation. */
export type ViolationResponse = 'record' | 'kill' | 'kill_and_revoke';

/** The response configured for each severity. */
export type ResponsePolicy = Readonly<Record<Severity, ViolationResponse>>;

/** Default: the configuration's default (`violations.response`), the one place that rule is written. */
export const DEFAULT_RESPONSE_POLICY: ResponsePolicy = DEFAULT_VIOLATIONS_CONFIG.response;

const ORDER: readonly ViolationResponse[] = ['record', 'kill', 'kill_and_revoke'];

/** The response to `severity` under `policy`. */
export function responseFor(severity: Severity, policy: ResponsePolicy = DEFAULT_RESPONSE_POLICY): ViolationResponse {
  return policy[severity];
}

/** The stronger of two responses (several violations: the strongest wins). */
export function strongest(a: ViolationResponse, b: ViolationResponse): ViolationResponse {
  return ORDER.indexOf(a) >= ORDER.indexOf(b) ? a : b;
}
