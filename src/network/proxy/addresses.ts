/**
 * Classifies the address a connection would go to: a reason string when a sandbox must not reach
 * it (internal ranges, cloud metadata, the host's own addresses), null when it is public.
 */
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { buildRangeTable, type AddressReason } from './address-ranges.ts';
import { canonicalIp, mappedIpv4 } from './host-name.ts';

export type { AddressReason } from './address-ranges.ts';
export { CLOUD_METADATA_ADDRESSES } from './address-ranges.ts';

/** Reasons no allowlist entry can lift, not even the exact IP literal. */
// Why: metadata hands out credentials, and 0.0.0.0 is the host itself; no legitimate sandbox needs either.
export const ABSOLUTE_ADDRESS_REASONS: ReadonlySet<string> = new Set(['cloud_metadata', 'unspecified_address']);

const IPV4_COMPATIBLE = /^::([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

export type AddressClassifier = (address: string) => AddressReason | null;

/** Every address assigned to this host's interfaces (the default for `hostAddresses`). */
export function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((entry) => entry.address));
}

/**
 * A classifier over the fixed ranges plus the host's own addresses, read on every call because
 * veths come and go while the proxy runs.
 */
export function createAddressClassifier(hostAddresses: () => string[] = interfaceAddresses): AddressClassifier {
  const table = buildRangeTable();
  return (address) => {
    const canonical = canonicalIp(address);
    // Why: something that is not an IP cannot be connected to safely; treat it as reserved.
    if (canonical === null) return 'reserved_address';
    const family = isIP(canonical) === 4 ? 'ipv4' : 'ipv6';
    if (table.metadata.check(canonical, family)) return 'cloud_metadata';
    const embedded = family === 'ipv6' ? embeddedIpv4(canonical) : null;
    if (embedded !== null) return classifyFixed(embedded, 'ipv4') ?? 'reserved_address';
    const fixed = classifyFixed(canonical, family);
    if (fixed !== null) return fixed;
    const own = new Set(hostAddresses().map(canonicalIp).filter((a): a is string => a !== null));
    return own.has(canonical) ? 'host_address' : null;
  };

  function classifyFixed(address: string, family: 'ipv4' | 'ipv6'): AddressReason | null {
    if (table.metadata.check(address, family)) return 'cloud_metadata';
    for (const [reason, list] of table.ranges[family]) if (list.check(address, family)) return reason;
    return null;
  }
}

/**
 * Whether an address is this host's own: loopback, unspecified (0.0.0.0/8 and `::` reach the host
 * on Linux) or assigned to one of its interfaces (read on every call: slot links come and go).
 */
export function createLocalAddressCheck(hostAddresses: () => string[] = interfaceAddresses): (address: string) => boolean {
  return (address) => {
    const canonical = canonicalIp(address);
    if (canonical === null) return true; // Why: what is not an IP cannot be shown to be elsewhere.
    const ip = isIP(canonical) === 6 ? (embeddedIpv4(canonical) ?? canonical) : canonical;
    if (ip === '::' || ip === '::1') return true;
    const first = isIP(ip) === 4 ? Number(ip.split('.')[0]) : -1;
    if (first === 127 || first === 0) return true;
    return hostAddresses().some((own) => canonicalIp(own) === ip);
  };
}

/** The IPv4 inside a deprecated IPv4-compatible (`::a.b.c.d`) or mapped address, else null. */
export function embeddedIpv4(compressedV6: string): string | null {
  const mapped = mappedIpv4(compressedV6);
  if (mapped !== null) return mapped;
  const match = IPV4_COMPATIBLE.exec(compressedV6);
  if (!match) return null;
  const high = Number.parseInt(match[1] ?? '', 16);
  const low = Number.parseInt(match[2] ?? '', 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}
