/**
 * Egress refusals of a restricted sandbox as violations. The proxy already refused the request;
 * what it was refused for says what the code was after: the cloud metadata service or the
 * controller's own listeners are escape probes, private and host addresses are scans of the
 * network the sandbox must not see, and a TLS or Host mismatch is an attempt to slip past the
 * allowlist. An ordinary host outside the allowlist is the low end (a dependency fetch, a typo).
 */
import type { EgressDecision } from '../network/proxy/index.ts';
import type { DenyReason } from '../network/proxy/reasons.ts';
import type { SecurityViolation, Severity } from './result.ts';
import { violation } from './violations.ts';

/** How a refusal reason reads as a violation; reasons absent here are no violation (the client left, a brokered secret has its own). */
interface RefusalKind {
  readonly type: string;
  readonly severity: Severity;
  /** The escape-attempt pattern it is counted under (hardened_sandbox_escape_attempts_total), if any. */
  readonly pattern?: string;
  readonly remediation: string;
}

const METADATA: RefusalKind = { type: 'cloud_metadata_probe', severity: 'HIGH', pattern: 'cloud_metadata', remediation: 'Code reaching for the cloud metadata service is after the host\'s credentials; review it.' };
const CONTROLLER: RefusalKind = { type: 'controller_probe', severity: 'HIGH', pattern: 'runtime_socket_probe', remediation: 'The controller\'s API, metrics and proxies are never reachable from a sandbox; code probing them is looking for a way out.' };
const INTERNAL: RefusalKind = { type: 'internal_network_probe', severity: 'MEDIUM', pattern: 'internal_network_probe', remediation: 'Private, loopback and host addresses are never reachable; configure an internal service (network.services) if one is needed.' };
const EVASION: RefusalKind = { type: 'egress_evasion', severity: 'MEDIUM', pattern: 'egress_evasion', remediation: 'The request named one host and tried to reach another (SNI, Host header or a non-TLS tunnel); review the client.' };
const OUTSIDE: RefusalKind = { type: 'egress_denied', severity: 'LOW', remediation: 'Add the host to allowed_hosts if it is a legitimate destination.' };
const CLEARTEXT: RefusalKind = { type: 'brokered_secret_cleartext', severity: 'MEDIUM', pattern: 'credential_exfiltration', remediation: 'Use https:// for this host, or set secrets.bind.NAME.plainHttp if it only speaks HTTP on a trusted network.' };
const MALFORMED: RefusalKind = { type: 'egress_malformed', severity: 'LOW', remediation: 'Use an ordinary HTTP client with the sandbox\'s HTTP(S)_PROXY settings.' };

/** Every refusal reason's kind (a Record, so a new reason without one won't compile). */
const KINDS: Record<DenyReason, RefusalKind | undefined> = {
  not_a_proxy_request: MALFORMED, bad_target: MALFORMED, userinfo_in_url: MALFORMED, unsupported_scheme: MALFORMED, malformed_request: MALFORMED,
  host_header_mismatch: EVASION, sni_mismatch: EVASION, sni_missing: EVASION, not_tls: EVASION, tls_malformed: EVASION,
  not_allowlisted: OUTSIDE, dns_failure: OUTSIDE,
  unknown_service: OUTSIDE, service_method_not_allowed: OUTSIDE, service_path_not_allowed: OUTSIDE, service_path_encoded: EVASION, service_requires_http: MALFORMED, bad_service_url: MALFORMED,
  cloud_metadata: METADATA,
  controller_listener: CONTROLLER,
  unspecified_address: INTERNAL, loopback_address: INTERNAL, private_address: INTERNAL, link_local_address: INTERNAL, cgnat_address: INTERNAL,
  unique_local_address: INTERNAL, site_local_address: INTERNAL, multicast_address: INTERNAL, broadcast_address: INTERNAL, reserved_address: INTERNAL,
  documentation_address: INTERNAL, benchmarking_address: INTERNAL, nat64_address: INTERNAL, '6to4_address': INTERNAL, teredo_address: INTERNAL, host_address: INTERNAL,
  // Its own violation (brokered-violation.ts), with the secret's name.
  brokered_secret_unbound: undefined,
  brokered_secret_cleartext: CLEARTEXT,
  // Not the sandbox's doing: the intercepting proxy and the client disagreed, or the client left.
  tls_timeout: undefined, tls_intercept_failed: undefined, client_closed: undefined,
};

/** The violation an egress refusal stands for, or undefined (allowed, or a reason that is none). */
export function egressRefusalViolation(decision: EgressDecision): SecurityViolation | undefined {
  if (decision.allowed) return undefined;
  const kind = (KINDS as Record<string, RefusalKind | undefined>)[decision.reason];
  if (kind === undefined) return undefined;
  return violation(kind.type, kind.severity, 'NETWORK', `egress to ${decision.host}:${decision.port} refused (${decision.reason})`, {
    sandbox_id: decision.sandboxId,
    host: decision.host,
    port: decision.port,
    reason: decision.reason,
    kind: decision.kind,
    ...(kind.pattern === undefined ? {} : { pattern: kind.pattern }),
  }, kind.remediation);
}

/** The key two refusals of one sandbox share when they are the same attempt again (recorded once). */
export function refusalKey(v: SecurityViolation): string {
  return `${v.violation_type}|${String(v.indicators['host'])}|${String(v.indicators['port'])}`;
}
