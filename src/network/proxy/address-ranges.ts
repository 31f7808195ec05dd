/**
 * The address ranges a sandbox must never reach by name, in match order (first match names the
 * reason). IPv6 forms that embed an IPv4 address (mapped, compatible) are unwrapped before this
 * table is consulted, so each IPv4 range below also covers them.
 */
import { BlockList } from 'node:net';

export type AddressReason =
  | 'cloud_metadata' | 'unspecified_address' | 'loopback_address' | 'private_address'
  | 'link_local_address' | 'cgnat_address' | 'unique_local_address' | 'site_local_address'
  | 'multicast_address' | 'broadcast_address' | 'reserved_address' | 'documentation_address'
  | 'benchmarking_address' | 'nat64_address' | '6to4_address' | 'teredo_address' | 'host_address';

type Range = readonly [reason: AddressReason, network: string, prefix: number];

// Why: instance metadata endpoints hand out cloud credentials; they get their own reason and are never allowed.
export const CLOUD_METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254', // AWS, GCP, Azure, OpenStack, DigitalOcean
  '169.254.170.2', // AWS ECS task credentials
  '169.254.169.253', // AWS VPC DNS
  '169.254.169.123', // AWS time sync
  '100.100.100.200', // Alibaba Cloud
  '168.63.129.16', // Azure WireServer (a public address that only the host answers)
  'fd00:ec2::254', // AWS IMDS over IPv6
  'fd00:ec2::23', // AWS DNS over IPv6
];

const IPV4_RANGES: readonly Range[] = [
  ['unspecified_address', '0.0.0.0', 8], // Why: 0.0.0.0 reaches the host's own listeners on Linux.
  ['loopback_address', '127.0.0.0', 8],
  ['private_address', '10.0.0.0', 8],
  ['private_address', '172.16.0.0', 12],
  ['private_address', '192.168.0.0', 16],
  ['cgnat_address', '100.64.0.0', 10],
  ['link_local_address', '169.254.0.0', 16],
  ['reserved_address', '192.0.0.0', 24], // IETF protocol assignments
  ['documentation_address', '192.0.2.0', 24],
  ['reserved_address', '192.88.99.0', 24], // 6to4 relay anycast
  ['benchmarking_address', '198.18.0.0', 15],
  ['documentation_address', '198.51.100.0', 24],
  ['documentation_address', '203.0.113.0', 24],
  ['multicast_address', '224.0.0.0', 4],
  ['broadcast_address', '255.255.255.255', 32],
  ['reserved_address', '240.0.0.0', 4],
];

const IPV6_RANGES: readonly Range[] = [
  ['unspecified_address', '::', 128],
  ['loopback_address', '::1', 128],
  ['nat64_address', '64:ff9b::', 96], // Why: a NAT64 gateway would carry us to any embedded IPv4, private included.
  ['nat64_address', '64:ff9b:1::', 48],
  ['reserved_address', '::', 8], // Why: holds IPv4-compatible and SIIT-translated forms of internal IPv4.
  ['reserved_address', '100::', 64], // discard-only
  ['teredo_address', '2001::', 32], // Why: embeds an IPv4 server and client; tunnels around the table above.
  ['benchmarking_address', '2001:2::', 48],
  ['reserved_address', '2001::', 23], // IETF protocol assignments (ORCHID and friends)
  ['documentation_address', '2001:db8::', 32],
  ['6to4_address', '2002::', 16], // Why: embeds an IPv4 address that a 6to4 relay would reach.
  ['documentation_address', '3fff::', 20],
  ['unique_local_address', 'fc00::', 7],
  ['link_local_address', 'fe80::', 10],
  ['site_local_address', 'fec0::', 10],
  ['multicast_address', 'ff00::', 8],
];

/**
 * Every IPv4 destination refused above, as CIDRs: the same list the host firewall drops for
 * `full` sandboxes, so the proxy and the NAT path refuse exactly the same places.
 */
export const REFUSED_IPV4_CIDRS: readonly string[] = [
  ...IPV4_RANGES.map(([, network, prefix]) => `${network}/${prefix}`),
  ...CLOUD_METADATA_ADDRESSES.filter((a) => !a.includes(':')).map((a) => `${a}/32`),
];

type Family = 'ipv4' | 'ipv6';

export interface RangeTable {
  readonly metadata: BlockList;
  /** Per family: a BlockList's IPv6 subnet also matches IPv4 addresses (as ::ffff:x), so families never mix. */
  readonly ranges: Readonly<Record<Family, readonly (readonly [AddressReason, BlockList])[]>>;
}

/** Builds the lookup table: one BlockList per range so the match names its reason. */
export function buildRangeTable(): RangeTable {
  const metadata = new BlockList();
  for (const address of CLOUD_METADATA_ADDRESSES) metadata.addAddress(address, address.includes(':') ? 'ipv6' : 'ipv4');
  return {
    metadata,
    ranges: {
      ipv4: IPV4_RANGES.map(([reason, network, prefix]) => [reason, subnet(network, prefix, 'ipv4')] as const),
      ipv6: IPV6_RANGES.map(([reason, network, prefix]) => [reason, subnet(network, prefix, 'ipv6')] as const),
    },
  };
}

function subnet(network: string, prefix: number, family: Family): BlockList {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list;
}
