/**
 * What "the network state of a sandbox" is, read without entering its namespace: the sandbox side
 * from /proc/<pid>/net (links, routes, addresses of the namespace that pid lives in), the host side
 * from its link in /sys/class/net, the host routing table and the slot's nft table. A snapshot is a
 * map of facet → canonical text; drift is any facet whose text changed.
 */
import { readFile } from 'node:fs/promises';
import type { NetworkSlot } from './slots.ts';

export type NetworkSnapshot = Record<string, string>;

/** Per-check shared reads (one `nft list ruleset` and one host route read for all sandboxes). */
export interface CheckContext {
  ruleset(): Promise<NftItem[]>;
  hostRoutes(): Promise<string[]>;
}

export type NftItem = Record<string, { family?: string; table?: string; name?: string } & Record<string, unknown>>;

async function readOrMissing(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Link names only: /proc/net/dev also carries counters, which change all the time. */
function linkNames(dev: string): string {
  return dev
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name.length > 0)
    .sort()
    .join(',');
}

/**
 * The sandbox side, seen through one of its processes; undefined when that process is gone (the
 * sandbox is ending: not drift). `linksOnly` reads nothing but the link list.
 */
export async function readSandboxSide(pid: number, linksOnly = false): Promise<NetworkSnapshot | undefined> {
  const base = `/proc/${pid}/net`;
  const dev = await readOrMissing(`${base}/dev`);
  if (dev === undefined) return undefined;
  const links: NetworkSnapshot = { 'sandbox links': linkNames(dev) };
  if (linksOnly) return links;
  const [route, fib, route6, addr6] = await Promise.all(['route', 'fib_trie', 'ipv6_route', 'if_inet6'].map((f) => readOrMissing(`${base}/${f}`)));
  return {
    ...links,
    'sandbox IPv4 routes': route ?? '',
    'sandbox IPv4 addresses': fib ?? '',
    'sandbox IPv6 routes': route6 ?? '',
    'sandbox IPv6 addresses': addr6 ?? '',
  };
}

/** The host side of an attached slot: its link, its routes and its firewall table. */
export async function readHostSide(slot: NetworkSlot, ctx: CheckContext): Promise<NetworkSnapshot> {
  const sys = `/sys/class/net/${slot.hostLink}`;
  // Configuration only: ifindex (the same link) and flags (IFF_UP, the admin state someone would
  // have to change). Not operstate: the kernel derives it from the carrier asynchronously (link
  // events are batched up to a second apart host-wide), so a slot built beside others can record
  // "down" and turn "up" later with nobody changing anything.
  const [ifindex, flags] = await Promise.all(['ifindex', 'flags'].map((f) => readOrMissing(`${sys}/${f}`)));
  const link = ifindex === undefined ? 'missing' : `ifindex=${ifindex.trim()} flags=${flags?.trim()}`;
  const routes = (await ctx.hostRoutes()).filter((line) => line.split('\t')[0] === slot.hostLink).sort().join('\n');
  const items = (await ctx.ruleset()).filter((item) => {
    const body = Object.values(item)[0];
    return body?.family === 'inet' && (body.table === slot.table || (body.name === slot.table && 'table' in item));
  });
  return {
    'host link': link,
    'host routes': routes,
    'firewall rules': items.length === 0 ? 'missing' : JSON.stringify(items),
  };
}

/** Human-readable description of what changed between two snapshots (empty when nothing did). */
export function describeDrift(before: NetworkSnapshot, after: NetworkSnapshot): string[] {
  const changes: string[] = [];
  for (const facet of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const was = before[facet] ?? '';
    const now = after[facet] ?? '';
    if (was === now) continue;
    if (now === 'missing') changes.push(`${facet}: removed`);
    else if (facet === 'sandbox links') changes.push(`${facet}: was [${was}], now [${now}]`);
    else if (facet === 'firewall rules') changes.push(`${facet}: the sandbox's nft table was changed from the host side`);
    else changes.push(`${facet}: changed (${lineDiff(was, now)})`);
  }
  return changes;
}

function lineDiff(was: string, now: string): string {
  const before = new Set(was.split('\n').filter(Boolean));
  const after = new Set(now.split('\n').filter(Boolean));
  const added = [...after].filter((l) => !before.has(l)).slice(0, 2);
  const removed = [...before].filter((l) => !after.has(l)).slice(0, 2);
  const parts = [...added.map((l) => `+ ${l.trim()}`), ...removed.map((l) => `- ${l.trim()}`)];
  return parts.join('; ').replace(/\s+/g, ' ').slice(0, 300);
}

/** Items of `nft -j list ...` output, without the metainfo header. */
function parseNftJson(text: string): NftItem[] {
  return (JSON.parse(text) as { nftables: NftItem[] }).nftables.filter((item) => !('metainfo' in item));
}

/** A context whose reads happen once, on first use: `listNft` gives `nft -j list …` output. */
export function checkContext(listNft: () => Promise<string>): CheckContext {
  let ruleset: Promise<NftItem[]> | undefined;
  let routes: Promise<string[]> | undefined;
  return {
    ruleset: () => (ruleset ??= listNft().then(parseNftJson)),
    hostRoutes: () => (routes ??= readFile('/proc/net/route', 'utf8').then((t) => t.split('\n').slice(1).filter(Boolean))),
  };
}
