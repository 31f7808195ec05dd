/**
 * Per-sandbox network slots: each attached sandbox gets a /30 of the configured subnet (host side
 * `.1`, sandbox side `.2`) and names derived from the slot number (netns `airlock-nN`, host link
 * `al-nN`, nft table `inet airlock-nN`). A slot is leased with an O_EXCL file naming its owner
 * process, so a CLI run and a server never collide and a crashed owner's slots can be reaped.
 *
 * A configured `network.instance` tag (e.g. `t3f9`) puts a controller's slots in a space of their
 * own: names `airlock-nt3f9-N`, `al-nt3f9-N`, leases under `/run/airlock-net-t3f9`. The default
 * (untagged) space never matches those names, so neither reaps nor counts the other's objects.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileReleaser, leaseFreeFile } from '../host/lease-file.ts';
import { ControlError } from '../host/control-error.ts';
import { currentOwner, ownerAlive, type ProcessOwner } from '../host/ownership.ts';

export interface NetworkSlot {
  index: number;
  netns: string;
  /** Host-side end of the veth pair (IFNAMSIZ: at most 15 characters). */
  hostLink: string;
  /** Name of the sandbox-side end, inside the netns. */
  sandboxLink: string;
  table: string;
  hostAddress: string;
  sandboxAddress: string;
  prefixLength: 30;
}

/** Name prefixes of the default (untagged) slot space. */
export const SLOT_PREFIX = 'airlock-n';
export const HOST_LINK_PREFIX = 'al-n';

/** Where one slot space's objects are named and leased. */
export interface SlotSpaceNames {
  /** Prefix of namespaces and nft tables; the slot number follows. */
  netns: string;
  /** Prefix of host links; the slot number follows. */
  link: string;
  /** Directory of the space's lease files. */
  leaseDir: string;
}

/** The names of slot space `instance` ('' = the default space). Pure. */
export function slotSpace(instance = ''): SlotSpaceNames {
  if (instance === '') return { netns: SLOT_PREFIX, link: HOST_LINK_PREFIX, leaseDir: SLOT_LEASE_DIR };
  // Why: the dash keeps a tagged name from ever reading as a default-space name plus digits.
  return { netns: `${SLOT_PREFIX}${instance}-`, link: `${HOST_LINK_PREFIX}${instance}-`, leaseDir: `${SLOT_LEASE_DIR}-${instance}` };
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** First address and size of an IPv4 CIDR, as integers. */
function subnetRange(subnet: string): { start: number; size: number } {
  const [base, prefix] = subnet.split('/') as [string, string];
  const size = 2 ** (32 - Number(prefix));
  return { start: ipToInt(base) - (ipToInt(base) % size), size };
}

/** Whether an IPv4 address lies in `subnet`. */
export function inSubnet(subnet: string, address: string): boolean {
  const { start, size } = subnetRange(subnet);
  const n = ipToInt(address);
  return n >= start && n < start + size;
}

/** Number of /30 slots in `subnet` (an IPv4 CIDR). */
export function slotCount(subnet: string): number {
  return subnetRange(subnet).size / 4;
}

/** The names and addresses of slot `index` of `subnet`, in slot space `instance`. Pure. */
export function describeSlot(subnet: string, index: number, instance = ''): NetworkSlot {
  const slotBase = subnetRange(subnet).start + index * 4;
  const names = slotSpace(instance);
  return {
    index,
    netns: `${names.netns}${index}`,
    hostLink: `${names.link}${index}`,
    sandboxLink: 'eth0',
    table: `${names.netns}${index}`,
    hostAddress: intToIp(slotBase + 1),
    sandboxAddress: intToIp(slotBase + 2),
    prefixLength: 30,
  };
}

export interface SlotLease {
  slot: NetworkSlot;
  release(): void;
}

/** Host-wide: every controller of the default slot space leases slots here, whatever its run directory. */
export const SLOT_LEASE_DIR = '/run/airlock-net';

/** Leases a free slot, starting at a random one (so concurrent controllers rarely contend). */
export function leaseSlot(subnet: string, instance = ''): SlotLease {
  const count = slotCount(subnet);
  const lease = leaseFreeFile({
    dir: slotSpace(instance).leaseDir,
    count,
    fileName: (i) => `${i}.json`,
    content: JSON.stringify(currentOwner()),
    control: 'network',
    what: 'a network slot',
  });
  if (lease === undefined) throw new ControlError('network', `all ${count} network slots of ${subnet} are leased`);
  return { slot: describeSlot(subnet, lease.index, instance), release: lease.release };
}

/** Slots whose owning process is gone (their links, namespaces and rules are leftovers). */
export function staleSlots(subnet: string, instance = ''): SlotLease[] {
  const dir = slotSpace(instance).leaseDir;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const stale: SlotLease[] = [];
  for (const name of names) {
    const match = /^(\d+)\.json$/.exec(name);
    if (match === null) continue;
    const path = `${dir}/${name}`;
    let owner: ProcessOwner;
    try {
      owner = JSON.parse(readFileSync(path, 'utf8')) as ProcessOwner;
    } catch {
      // A lease being written right now (or garbage naming no owner): never reaped on a guess.
      continue;
    }
    if (typeof owner.ownerPid !== 'number' || ownerAlive(owner)) continue;
    stale.push({ slot: describeSlot(subnet, Number(match[1]), instance), release: fileReleaser(path) });
  }
  return stale;
}

/** Indices of every leased slot (live or stale) of slot space `instance`. */
export function leasedSlotIndices(instance = ''): number[] {
  try {
    return readdirSync(slotSpace(instance).leaseDir)
      .map((n) => /^(\d+)\.json$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}
