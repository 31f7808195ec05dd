/**
 * Every reason an egress decision can carry, for the API, metrics and docs. Allowed: `allowlisted`,
 * `service`, `upstream_unreachable` (allowed, but the upstream could not be reached: 502) and
 * `upstream_certificate_invalid` (allowed, but its certificate failed verification: 502).
 */
export const ALLOW_REASONS = ['allowlisted', 'service', 'upstream_unreachable', 'upstream_certificate_invalid'] as const;

export const DENY_REASONS = [
  // the request itself
  'not_a_proxy_request', 'bad_target', 'userinfo_in_url', 'unsupported_scheme', 'host_header_mismatch', 'malformed_request',
  // the allowlist and DNS
  'not_allowlisted', 'dns_failure',
  // the address (see addresses.ts)
  'cloud_metadata', 'unspecified_address', 'loopback_address', 'private_address', 'link_local_address', 'cgnat_address',
  'unique_local_address', 'site_local_address', 'multicast_address', 'broadcast_address', 'reserved_address',
  'documentation_address', 'benchmarking_address', 'nat64_address', '6to4_address', 'teredo_address', 'host_address',
  // the controller's own listeners (API, metrics, egress proxies, inspector): never, whatever the allowlist
  'controller_listener',
  // internal services
  'unknown_service', 'service_method_not_allowed', 'service_path_not_allowed', 'service_path_encoded',
  'service_requires_http', 'bad_service_url',
  // a brokered secret's placeholder sent to a host it is not bound to (or in a URL); or to a bound
  // outside host over plain HTTP, which its binding doesn't allow
  'brokered_secret_unbound', 'brokered_secret_cleartext',
  // CONNECT, after the 200
  'sni_mismatch', 'sni_missing', 'not_tls', 'tls_malformed', 'tls_timeout',
  // an intercepted tunnel (a brokered secret's bound host) whose client did not complete TLS with the broker CA
  'tls_intercept_failed',
  // the client left before a decision
  'client_closed',
] as const;

export type DenyReason = (typeof DENY_REASONS)[number];
