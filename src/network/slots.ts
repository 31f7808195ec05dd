/**
 * Per-sandbox network slots: each attached sandbox gets a /30 of the configured subnet (host side
 * `.1`, sandbox side `.2`) and names derived from the slot number (netns `airlock-nN`, host link
 * `al-nN`, nft table `inet airlock-nN`). A slot is leased with an O_EXCL file naming its owner
 * process, so a CLI run and a server never collide and a crashed owner's slots can be reaped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileReleaser, leaseFreeFile } from '../isolation/lease-file.ts';
import { ControlError } from '../isolation/driver.ts';
import { currentOwner, ownerAlive, type ProcessOwner } from '../isolation/ownership.ts';

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

export const SLOT_PREFIX = 'airlock-n';
export const HOST_LINK_PREFIX = 'al-n';

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

/** The names and addresses of slot `index` of `subnet`. Pure. */
export function describeSlot(subnet: string, index: number): NetworkSlot {
  const slotBase = subnetRange(subnet).start + index * 4;
  return {
    index,
    netns: `${SLOT_PREFIX}${index}`,
    hostLink: `${HOST_LINK_PREFIX}${index}`,
    sandboxLink: 'eth0',
    table: `${SLOT_PREFIX}${index}`,
    hostAddress: intToIp(slotBase + 1),
    sandboxAddress: intToIp(slotBase + 2),
    prefixLength: 30,
  };
}

export interface SlotLease {
  slot: NetworkSlot;
  release(): void;
}

/** Host-wide: every controller on the host leases slots here, whatever its run directory. */
export const SLOT_LEASE_DIR = '/run/airlock-net';

/** Leases a free slot, starting at a random one (so concurrent controllers rarely contend). */
export function leaseSlot(subnet: string): SlotLease {
  const count = slotCount(subnet);
  const lease = leaseFreeFile({
    dir: SLOT_LEASE_DIR,
    count,
    fileName: (i) => `${i}.json`,
    content: JSON.stringify(currentOwner()),
    control: 'network',
    what: 'a network slot',
  });
  if (lease === undefined) throw new ControlError('network', `all ${count} network slots of ${subnet} are leased`);
  return { slot: describeSlot(subnet, lease.index), release: lease.release };
}

/** Slots whose owning process is gone (their links, namespaces and rules are leftovers). */
export function staleSlots(subnet: string): SlotLease[] {
  let names: string[];
  try {
    names = readdirSync(SLOT_LEASE_DIR);
  } catch {
    return [];
  }
  const stale: SlotLease[] = [];
  for (const name of names) {
    const match = /^(\d+)\.json$/.exec(name);
    if (match === null) continue;
    const path = `${SLOT_LEASE_DIR}/${name}`;
    let owner: ProcessOwner;
    try {
      owner = JSON.parse(readFileSync(path, 'utf8')) as ProcessOwner;
    } catch {
      // A lease being written right now (or garbage naming no owner): never reaped on a guess.
      continue;
    }
    if (typeof owner.ownerPid !== 'number' || ownerAlive(owner)) continue;
    stale.push({ slot: describeSlot(subnet, Number(match[1])), release: fileReleaser(path) });
  }
  return stale;
}

/** Indices of every leased slot (live or stale). */
export function leasedSlotIndices(): number[] {
  try {
    return readdirSync(SLOT_LEASE_DIR)
      .map((n) => /^(\d+)\.json$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}
