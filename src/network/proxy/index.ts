/** The egress proxy of the `restricted` network mode: allowlist, address checks, proxy. */
export { startEgressProxy } from './egress-proxy.ts';
export {
  AllowlistError, DEFAULT_ALLOWED_PORTS, INTERNAL_SERVICE_DOMAIN, checkAllowEntry, findAllowRule, isPublicSuffix,
  matchesAllowlist, parseAllowEntry, parseAllowlist,
} from './allowlist.ts';
export type { AllowRule, AllowlistProblem, EntryResult } from './allowlist.ts';
export { ABSOLUTE_ADDRESS_REASONS, CLOUD_METADATA_ADDRESSES, createAddressClassifier, interfaceAddresses } from './addresses.ts';
export type { AddressClassifier, AddressReason } from './addresses.ts';
export { canonicalHost, canonicalIp } from './host-name.ts';
export { parseAbsoluteTarget, parseConnectTarget, parseHostHeader } from './target.ts';
export type { HostPort, HttpTarget, TargetRefusal } from './target.ts';
export { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './tls-sni.ts';
export type { SniVerdict } from './tls-sni.ts';
export { DENY_REASON_HEADER } from './deny.ts';
export { createBrokerCa } from './broker-ca.ts';
export type { BrokerCa } from './broker-ca.ts';
export { ALLOW_REASONS, DENY_REASONS } from './reasons.ts';
export type { DenyReason } from './reasons.ts';
export type {
  BrokeredCredential, DecisionKind, EgressDecision, ResponseRedactor, EgressProxy, EgressProxyOptions, InternalService, ResolvedAddress, Resolver,
} from './types.ts';
