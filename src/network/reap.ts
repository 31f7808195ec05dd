/**
 * Releases the networks of slots whose owner died, and any airlock network piece (namespace, link,
 * table) that no lease accounts for at all.
 */
import { readdirSync } from 'node:fs';
import { runTool, type NetTools } from './host-tools.ts';
import { destroySlotNetwork, NETNS_DIR, releaseSlot } from './slot-network.ts';
import { describeSlot, leasedSlotIndices, slotSpace, staleSlots } from './slots.ts';

/** Slot indices of every airlock network piece of slot space `instance` present on the host. */
export async function presentSlotIndices(nftPath: string, instance = ''): Promise<Map<number, string[]>> {
  const names = slotSpace(instance);
  const found = new Map<number, string[]>();
  const add = (index: number, what: string) => found.set(index, [...(found.get(index) ?? []), what]);
  const scan = (dir: string, prefix: string, what: string) => {
    try {
      for (const name of readdirSync(dir)) if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))) add(Number(name.slice(prefix.length)), `${what} ${name}`);
    } catch {
      // No such directory: nothing of this kind exists.
    }
  };
  scan(NETNS_DIR, names.netns, 'netns');
  scan('/sys/class/net', names.link, 'link');
  const tables = await runTool(nftPath, ['list', 'tables']).catch(() => '');
  for (const m of tables.matchAll(new RegExp(`^table inet ${names.netns}(\\d+)$`, 'gm'))) add(Number(m[1]), `nft table inet ${names.netns}${m[1]}`);
  return found;
}

/** Reaps; returns how many slots were released. */
export async function reapNetworks(subnet: string, tools: NetTools, instance = ''): Promise<number> {
  let count = 0;
  for (const lease of staleSlots(subnet, instance)) if (await releaseSlot(lease, tools)) count++;
  const leased = new Set(leasedSlotIndices(instance));
  for (const index of (await presentSlotIndices(tools.nft, instance)).keys()) {
    if (leased.has(index)) continue;
    if ((await destroySlotNetwork(describeSlot(subnet, index, instance), tools)).length === 0) count++;
  }
  return count;
}

/** Network pieces no live controller accounts for (stale leases, unleased pieces), one line each. */
export async function findNetworkLeftovers(subnet: string, nftPath: string, instance = ''): Promise<string[]> {
  const found = staleSlots(subnet, instance).map((l) => `network slot ${l.slot.index} of a dead controller`);
  const leased = new Set(leasedSlotIndices(instance));
  for (const [index, pieces] of await presentSlotIndices(nftPath, instance)) if (!leased.has(index)) found.push(...pieces.map((p) => `unleased ${p}`));
  return found;
}
